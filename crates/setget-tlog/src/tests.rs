//! The tree against the RFC 6962 vectors of transparency-dev/merkle (`testonly/constants.go`,
//! `cmd/proofgen`), the notes against golang.org/x/mod's `sumdb/note` vectors.

use std::collections::HashMap;

use crate::note::{Checkpoint, NoteSigner, NoteVerifier};
use crate::tree::*;

fn unhex(s: &str) -> Hash {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    })
    .collect()
}

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// A store as the server keeps one: the hashes kept with each leaf.
#[derive(Default)]
struct Stored(Vec<Vec<Hash>>);

impl Stored {
    fn append(&mut self, leaf: Hash) {
        let index = self.0.len() as u64;
        let siblings = self.read(&siblings_for_append(index)).unwrap();
        self.0
            .push(hashes_to_store(index, leaf, &siblings).unwrap());
    }
}

impl NodeReader for Stored {
    fn read(&mut self, nodes: &[Node]) -> Result<Vec<Hash>, Error> {
        nodes
            .iter()
            .map(|&n| {
                let (leaf, offset) = holder(n);
                self.0
                    .get(leaf as usize)
                    .and_then(|h| h.get(offset))
                    .copied()
                    .ok_or_else(|| Error::Store(format!("no node {n:?}")))
            })
            .collect()
    }
}

fn tree_of(n: usize) -> (Stored, Vec<Hash>) {
    let mut stored = Stored::default();
    let mut leaf_hashes = Vec::new();
    for i in 0..n {
        let h = leaf_hash(format!("leaf {i}").as_bytes());
        leaf_hashes.push(h);
        stored.append(h);
    }
    (stored, leaf_hashes)
}

#[test]
fn the_roots_of_the_rfc_vectors_come_from_the_store_and_the_frontier() {
    let mut stored = Stored::default();
    let mut frontier = Frontier::new();
    assert_eq!(root(0, &mut stored).unwrap(), unhex(ROOTS[0]));
    assert_eq!(frontier.root(), unhex(ROOTS[0]));
    for (i, data) in leaves().iter().enumerate() {
        stored.append(leaf_hash(data));
        frontier.push(leaf_hash(data));
        assert_eq!(
            root(i as u64 + 1, &mut stored).unwrap(),
            unhex(ROOTS[i + 1])
        );
        assert_eq!(frontier.root(), unhex(ROOTS[i + 1]), "size {}", i + 1);
        let back = Frontier::from_bytes(&frontier.to_bytes()).unwrap();
        assert_eq!(back, frontier);
    }
    // Every smaller tree's root, from the store of the bigger one.
    for size in 0..=8 {
        assert_eq!(
            root(size, &mut stored).unwrap(),
            unhex(ROOTS[size as usize])
        );
    }
    assert!(Frontier::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 3, 1]).is_none());
}

#[test]
fn the_proofs_of_the_rfc_vectors_are_made_and_verified() {
    let mut stored = Stored::default();
    let data = leaves();
    for d in &data {
        stored.append(leaf_hash(d));
    }
    let inclusion: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, want) in inclusion {
        let want: Vec<Hash> = want.iter().map(|h| unhex(h)).collect();
        let proof = prove_inclusion(index, size, &mut stored).unwrap();
        assert_eq!(proof, want, "inclusion of {index} in {size}");
        let leaf = leaf_hash(&data[index as usize]);
        verify_inclusion(index, size, &leaf, &proof, &unhex(ROOTS[size as usize])).unwrap();
    }
    let consistency: [(u64, u64, &[&str]); 4] = [
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (old, new, want) in consistency {
        let want: Vec<Hash> = want.iter().map(|h| unhex(h)).collect();
        let proof = prove_consistency(old, new, &mut stored).unwrap();
        assert_eq!(proof, want, "consistency {old} -> {new}");
        let (r1, r2) = (unhex(ROOTS[old as usize]), unhex(ROOTS[new as usize]));
        verify_consistency(old, new, &r1, &r2, &proof).unwrap();
    }
}

#[test]
fn every_proof_of_a_tree_of_70_verifies_and_every_altered_one_fails() {
    let (mut stored, leaf_hashes) = tree_of(70);
    let roots: Vec<Hash> = (0..=70).map(|n| root(n, &mut stored).unwrap()).collect();
    let mut frontier = Frontier::new();
    for (n, h) in leaf_hashes.iter().enumerate() {
        assert_eq!(frontier.root(), roots[n]);
        frontier.push(*h);
    }
    assert_eq!(frontier.root(), roots[70]);
    for size in 1..=70u64 {
        for index in 0..size {
            let proof = prove_inclusion(index, size, &mut stored).unwrap();
            let leaf = leaf_hashes[index as usize];
            verify_inclusion(index, size, &leaf, &proof, &roots[size as usize]).unwrap();
            // Another leaf, another index, a flipped bit, one hash more or less: refused.
            let other = leaf_hashes[((index + 1) % size) as usize];
            if size > 1 {
                assert!(
                    verify_inclusion(index, size, &other, &proof, &roots[size as usize]).is_err()
                );
                assert!(
                    verify_inclusion(
                        (index + 1) % size,
                        size,
                        &leaf,
                        &proof,
                        &roots[size as usize]
                    )
                    .is_err()
                );
            }
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i][0] ^= 1;
                assert!(verify_inclusion(index, size, &leaf, &bad, &roots[size as usize]).is_err());
            }
            let mut longer = proof.clone();
            longer.push(leaf);
            assert!(verify_inclusion(index, size, &leaf, &longer, &roots[size as usize]).is_err());
            if !proof.is_empty() {
                let shorter = &proof[..proof.len() - 1];
                assert!(
                    verify_inclusion(index, size, &leaf, shorter, &roots[size as usize]).is_err()
                );
            }
        }
        for old in 0..=size {
            let proof = prove_consistency(old, size, &mut stored).unwrap();
            let (r1, r2) = (roots[old as usize], roots[size as usize]);
            verify_consistency(old, size, &r1, &r2, &proof).unwrap();
            if old > 0 && old < size {
                // The old root of another size, or a different new tree, is refused.
                assert!(
                    verify_consistency(old, size, &roots[old as usize - 1], &r2, &proof).is_err()
                );
                assert!(
                    verify_consistency(old, size, &r1, &roots[size as usize - 1], &proof).is_err()
                );
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][31] ^= 0x80;
                    assert!(verify_consistency(old, size, &r1, &r2, &bad).is_err());
                }
                assert!(verify_consistency(old, size, &r1, &r2, &proof[1..]).is_err());
            }
        }
    }
    assert!(prove_inclusion(5, 5, &mut stored).is_err());
    assert!(prove_consistency(6, 5, &mut stored).is_err());
    assert!(verify_consistency(3, 3, &roots[3], &roots[2], &[]).is_err());
}

#[test]
fn a_store_missing_a_hash_says_so() {
    let (mut stored, _) = tree_of(9);
    stored.0.truncate(7);
    assert!(matches!(root(9, &mut stored), Err(Error::Store(_))));
    let mut empty: HashMap<u8, u8> = HashMap::new();
    empty.clear();
    assert!(hashes_to_store(3, [0; 32], &[]).is_err());
}

const PETER_PRIVATE: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_PUBLIC: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

#[test]
fn the_go_note_vectors_sign_and_open() {
    let signer = NoteSigner::from_private_string(PETER_PRIVATE).unwrap();
    assert_eq!(signer.to_private_string(), PETER_PRIVATE);
    assert_eq!(signer.verifier().to_string(), PETER_PUBLIC);
    let note = signer.sign(TEXT).unwrap();
    assert_eq!(note, format!("{TEXT}\n{PETER_SIG}"));
    let peter = NoteVerifier::parse(PETER_PUBLIC).unwrap();
    assert_eq!(peter.open(&note).unwrap(), TEXT);
    // A second, unknown signature is skipped; a note only Enoch signed is not Peter's.
    assert_eq!(
        peter
            .open(&format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}"))
            .unwrap(),
        TEXT
    );
    assert!(peter.open(&format!("{TEXT}\n{ENOCH_SIG}")).is_err());
    // Altered text, an altered signature, 101 signatures: refused.
    assert!(
        peter
            .open(&note.replace("cryptography", "Cryptography"))
            .is_err()
    );
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(peter.open(&bad).is_err());
    assert!(
        peter
            .open(&format!("{TEXT}\n{}", PETER_SIG.repeat(101)))
            .is_err()
    );
    for bad_key in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(NoteVerifier::parse(bad_key).is_err(), "{bad_key}");
    }
    for i in 0..PETER_PUBLIC.len() {
        assert!(NoteVerifier::parse(&PETER_PUBLIC[..i]).is_err());
    }
}

#[test]
fn a_checkpoint_round_trips_signed_and_co_signed() {
    let signer = NoteSigner::from_private_string(PETER_PRIVATE).unwrap();
    let cp = Checkpoint {
        origin: "PeterNeumann".into(),
        size: 8,
        root: unhex(ROOTS[8]),
    };
    let note = signer.sign(&cp.body()).unwrap();
    assert_eq!(
        note,
        "PeterNeumann\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n\u{2014} PeterNeumann x08gozdSgLMzAnw63LH1RGViJhUfW60EUGKY7Kmr004fQNOSqfrcd1hIk3BCtdcLWIqvGtX67sL24VN+44uTlxMnbAA=\n"
    );
    assert_eq!(Checkpoint::open(&note, &signer.verifier()).unwrap(), cp);
    let witness = NoteSigner::generate("admin-app");
    let line = witness.cosign(&cp.body(), 1_800_000_000).unwrap();
    assert_eq!(
        witness
            .verifier()
            .check_cosignature(&cp.body(), &line)
            .unwrap(),
        1_800_000_000
    );
    let other = Checkpoint {
        size: 9,
        ..cp.clone()
    };
    assert!(
        witness
            .verifier()
            .check_cosignature(&other.body(), &line)
            .is_err()
    );
    assert!(
        signer
            .verifier()
            .check_cosignature(&cp.body(), &line)
            .is_err()
    );
    for bad in ["o\n08\nAAAA\n", "o\n-1\n", "\n1\n", "o\n1\nnot base64\n"] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_generated_key_has_a_name_a_note_can_carry() {
    assert_eq!(NoteSigner::generate("a b+c").name(), "a-b-c");
    assert_eq!(NoteSigner::generate("").name(), "log");
    let key = NoteSigner::generate("example.com:8443");
    let back = NoteSigner::from_private_string(&key.to_private_string()).unwrap();
    assert_eq!(back.verifier(), key.verifier());
    assert_eq!(
        NoteVerifier::parse(&key.verifier().to_string()).unwrap(),
        key.verifier()
    );
}

#[test]
fn a_rotation_moves_the_pin_only_when_the_pinned_key_signed_it() {
    let old = NoteSigner::generate("log.example");
    let new = NoteSigner::generate("log.example");
    let intruder = NoteSigner::generate("log.example");
    let statement = crate::rotation::statement(&old, &new.verifier()).unwrap();
    assert_eq!(
        crate::rotation::successor(&statement, &old.verifier()).unwrap(),
        new.verifier()
    );
    let forged = crate::rotation::statement(&intruder, &new.verifier()).unwrap();
    assert!(crate::rotation::successor(&forged, &old.verifier()).is_err());
    assert!(crate::rotation::successor(&statement, &new.verifier()).is_err());
}
