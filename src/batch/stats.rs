//! Means and 95 % intervals over seeds: Student's t interval of a mean, and the paired t interval of
//! a variant's difference to the baseline over the seeds both ran.

/// Two-sided 95 % quantiles t(0.975, df) of Student's t distribution for df = 1…30, from the table
/// of the NIST/SEMATECH e-Handbook of Statistical Methods, section 1.3.6.7.2 ("Critical values of
/// the Student's t distribution"), column 0.025 (upper tail).
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The same table beyond 30 degrees of freedom, where it thins out.
const T975_LARGE: [(usize, f64); 6] = [(40, 2.021), (50, 2.009), (60, 2.000), (80, 1.990), (100, 1.984), (120, 1.980)];

/// t(0.975, df). Between rows of the table the row with fewer degrees of freedom is used, which
/// widens the interval slightly (never narrows it); past 120, the normal quantile 1.960.
pub fn t975(df: usize) -> Option<f64> {
    match df {
        0 => None,
        1..=30 => Some(T975[df - 1]),
        121.. => Some(1.960),
        _ => Some(T975_LARGE.iter().rev().find(|(d, _)| *d <= df).map_or(T975[29], |(_, t)| *t)),
    }
}

/// Mean of a sample with its 95 % t interval (when there are at least two values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); absent below two values.
    pub sd: Option<f64>,
    /// Half width of the 95 % interval: t(0.975, n − 1) · sd / √n.
    pub half_width: Option<f64>,
}

impl Estimate {
    /// `None` for an empty sample. Values are summed in the order given, so that the same values
    /// in the same order give the same bits.
    pub fn of(values: &[f64]) -> Option<Estimate> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd =
            (n >= 2).then(|| (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64).sqrt());
        let half_width = sd.and_then(|sd| Some(t975(n - 1)? * sd / (n as f64).sqrt()));
        Some(Estimate { n, mean, sd, half_width })
    }

    pub fn low(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean - h)
    }

    pub fn high(&self) -> Option<f64> {
        self.half_width.map(|h| self.mean + h)
    }
}

/// The paired difference `variant − baseline` over the seeds where both have a value (the same
/// seed gives both runs the same random streams, so the pairs share their noise and the interval of
/// the mean difference is narrower than Welch's for independent samples).
pub fn paired_difference(variant: &[Option<f64>], baseline: &[Option<f64>]) -> Option<Estimate> {
    let d: Vec<f64> = variant.iter().zip(baseline).filter_map(|(v, b)| Some((*v)? - (*b)?)).collect();
    Estimate::of(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_from_the_table() {
        assert_eq!(t975(0), None);
        assert_eq!(t975(2), Some(4.303));
        assert_eq!(t975(30), Some(2.042));
        assert_eq!(t975(45), Some(2.021));
        assert_eq!(t975(120), Some(1.980));
        assert_eq!(t975(1000), Some(1.960));
    }

    #[test]
    fn interval_of_three_values() {
        // 1, 2, 3: mean 2, sd 1, half width 4.303 / √3.
        let e = Estimate::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(e.mean, 2.0);
        assert_eq!(e.sd, Some(1.0));
        assert!((e.half_width.unwrap() - 4.303 / 3f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn pairs_only_where_both_ran() {
        let d = paired_difference(&[Some(3.0), None, Some(5.0)], &[Some(1.0), Some(1.0), Some(2.0)]).unwrap();
        assert_eq!(d.n, 2);
        assert_eq!(d.mean, 2.5);
    }
}
