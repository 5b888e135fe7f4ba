//! The panels' fonts: egui's own first, then a subset of Noto Sans SC for the Chinese that scenes
//! carry (unit names such as 瞿溪路), shipped in the binary from assets/fonts with its licence.

use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

/// Noto Sans CJK SC Regular cut down by `tools/fonts/subset_cjk.py` (GB 2312, ASCII, and what our
/// scenes and README use); SIL Open Font License 1.1, `assets/fonts/OFL.txt`.
const NOTO_SANS_SC: &[u8] = include_bytes!("../../assets/fonts/NotoSansSC-Regular-subset.otf");
const NOTO_SANS_SC_NAME: &str = "Noto Sans SC (subset)";

/// egui's fonts with Noto Sans SC behind each family, so that Latin text keeps egui's look and
/// Chinese falls back to Noto instead of showing empty boxes.
pub fn font_definitions() -> egui::FontDefinitions {
    let mut fonts = egui::FontDefinitions::default();
    fonts.font_data.insert(NOTO_SANS_SC_NAME.into(), Arc::new(egui::FontData::from_static(NOTO_SANS_SC)));
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        fonts.families.entry(family).or_default().push(NOTO_SANS_SC_NAME.into());
    }
    fonts
}

/// Installs the fonts in the window's egui context once, on the first frame it exists.
pub(super) fn install_fonts(mut contexts: EguiContexts, mut installed: Local<bool>) -> Result {
    if !*installed {
        contexts.ctx_mut()?.set_fonts(font_definitions());
        *installed = true;
    }
    Ok(())
}
