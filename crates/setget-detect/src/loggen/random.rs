//! The draws the model makes from its seeded generator: weighted choices, Poisson counts,
//! normal deviates, UUIDs and device labels by share.

use rand::Rng;
use rand::rngs::StdRng;

/// An index drawn with the given weights (the first when all are zero).
pub(super) fn weighted<T>(rng: &mut StdRng, items: &[T], weight: impl Fn(&T) -> f64) -> usize {
    let total: f64 = items.iter().map(&weight).sum();
    if total <= 0.0 {
        return 0;
    }
    let mut x = rng.random::<f64>() * total;
    for (i, item) in items.iter().enumerate() {
        x -= weight(item);
        if x < 0.0 {
            return i;
        }
    }
    items.len() - 1
}

/// A Poisson draw (Knuth; fine for the small means used here).
pub(super) fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut p = 1.0;
    let mut k = 0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit || k > 100 {
            return k;
        }
        k += 1;
    }
}

/// A UUID v4 from the generator's randomness.
pub(super) fn uuid(rng: &mut StdRng) -> String {
    let mut v: u128 = rng.random();
    v = (v & !(0xf << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        v >> 96,
        (v >> 80) & 0xffff,
        (v >> 64) & 0xffff,
        (v >> 48) & 0xffff,
        v & 0xffff_ffff_ffff
    )
}

pub(super) fn pick_label(rng: &mut StdRng, share: &[(&'static str, f64)]) -> &'static str {
    share[weighted(rng, share, |(_, w)| *w)].0
}

/// A standard normal draw (Box–Muller).
pub(super) fn normal(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}
