fn main() -> std::process::ExitCode {
    unitwin::cli::main()
}
