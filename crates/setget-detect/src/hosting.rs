//! Which autonomous systems are hosting providers: where attackers rent the machines they
//! sign in from, and where members seldom are. A sign-in from one the member never used is a
//! reason of its own.

/// Hosting and cloud providers by AS number: DigitalOcean, OVH, Hetzner, Amazon (EC2 and
/// its data services), Vultr, Linode, Microsoft (Azure), Google Cloud, Oracle Cloud, Alibaba
/// Cloud, Tencent Cloud, Contabo, M247, Leaseweb (two), Scaleway, IONOS and Hostinger.
pub const HOSTING_ASNS: &[u32] = &[
    14061, 16276, 24940, 16509, 14618, 8987, 20473, 63949, 8075, 396982, 31898, 45102, 132203,
    51167, 9009, 60781, 28753, 12876, 8560, 47583,
];

/// Words of an organisation's name that say hosting (any case).
const HOSTING_WORDS: &[&str] = &[
    "hosting",
    "cloud computing",
    "cloud services",
    "cloud infrastructure",
    "data center",
    "datacenter",
    "data centre",
    "vps",
    "colocation",
    "dedicated server",
];

/// Whether the autonomous system `asn`, run by `org`, is a hosting provider.
pub fn is_hosting(asn: u32, org: Option<&str>) -> bool {
    HOSTING_ASNS.contains(&asn)
        || org.is_some_and(|o| {
            let o = o.to_lowercase();
            HOSTING_WORDS.iter().any(|w| o.contains(w))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosting_providers_are_known_by_number_or_by_name() {
        assert!(is_hosting(14061, Some("DigitalOcean, LLC")));
        assert!(is_hosting(16509, None));
        assert!(is_hosting(64999, Some("Example Cloud Services Ltd")));
        assert!(is_hosting(64998, Some("ACME VPS GmbH")));
        assert!(!is_hosting(5089, Some("Virgin Media Limited")));
        // A word inside another is no word: Cloudflare's consumer VPN is not hosting.
        assert!(!is_hosting(13335, Some("Cloudflare, Inc.")));
        assert!(!is_hosting(64997, None));
    }
}
