//! The environment's signing key, in the file format `cosign generate-key-pair` writes (an
//! `ENCRYPTED SIGSTORE PRIVATE KEY`: a PKCS#8 P-256 key in a NaCl secretbox, its key derived
//! from the password with scrypt), but with the scrypt parameters cosign wrote before 2.0
//! (N = 2^15), which cosign still reads, instead of today's 2^16.
//!
//! Every `cosign sign`, `attest`, `sign-blob` and `public-key` decrypts the key, and that
//! scrypt was 86 % of cosign's CPU in the release tests (0.17 s against 0.09 s a signature,
//! docs/benchmarks.md). The release never reads the key itself: cosign does, and
//! `cosign public-key` derives the environment's public key from this file, so a key cosign
//! could not read fails `cargo xtask env up`. Tests that make their own key pairs still make
//! them with `cosign generate-key-pair`.

use anyhow::{anyhow, Result};
use base64::Engine as _;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

/// cosign's legacy scrypt parameters: the cheapest it accepts. Others fail with "decrypt:
/// unsupported scrypt parameters" (2^10 was tried).
pub const LOG_N: u8 = 15;
const R: u32 = 8;
const P: u32 = 1;

/// A new P-256 key pair's private key, encrypted with `password`, as PEM.
pub fn generate(password: &str) -> Result<String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| anyhow!("cannot generate a P-256 key"))?;
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    rng.fill(&mut salt)
        .and_then(|()| rng.fill(&mut nonce))
        .map_err(|_| anyhow!("no randomness for the key's salt and nonce"))?;
    encrypt(pkcs8.as_ref(), password, &salt, &nonce)
}

/// The PEM file of `pkcs8` sealed with `password`, given the salt and nonce.
fn encrypt(pkcs8: &[u8], password: &str, salt: &[u8; 32], nonce: &[u8; 24]) -> Result<String> {
    let key = derive(password, salt)?;
    let sealed = XSalsa20Poly1305::new(&key.into())
        .encrypt(Nonce::from_slice(nonce), pkcs8)
        .map_err(|_| anyhow!("cannot seal the key"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let document = serde_json::json!({
        "kdf": {
            "name": "scrypt",
            "params": {"N": 1u32 << LOG_N, "r": R, "p": P},
            "salt": b64.encode(salt),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": b64.encode(nonce)},
        "ciphertext": b64.encode(sealed),
    });
    let body = b64.encode(serde_json::to_vec(&document)?);
    let mut pem = String::from("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n");
    Ok(pem)
}

fn derive(password: &str, salt: &[u8]) -> Result<[u8; 32]> {
    let params =
        scrypt::Params::new(LOG_N, R, P, 32).map_err(|_| anyhow!("bad scrypt parameters"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), salt, &params, &mut key)
        .map_err(|_| anyhow!("scrypt refused the key length"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PEM's JSON document, and the PKCS#8 key it opens to with `password`.
    fn open(pem: &str, password: &str) -> Result<(serde_json::Value, Vec<u8>)> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let document: serde_json::Value = serde_json::from_slice(&b64.decode(body)?)?;
        let field = |v: &serde_json::Value| b64.decode(v.as_str().unwrap_or_default());
        let key = derive(password, &field(&document["kdf"]["salt"])?)?;
        let opened = XSalsa20Poly1305::new(&key.into())
            .decrypt(
                Nonce::from_slice(&field(&document["cipher"]["nonce"])?),
                field(&document["ciphertext"])?.as_slice(),
            )
            .map_err(|_| anyhow!("wrong password"))?;
        Ok((document, opened))
    }

    #[test]
    fn the_key_opens_with_its_password_only_and_names_cosigns_legacy_parameters() {
        let pem = generate("pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64), "{pem}");
        let (document, pkcs8) = open(&pem, "pw").unwrap();
        assert_eq!(
            document["kdf"]["params"],
            serde_json::json!({"N": 32768, "r": 8, "p": 1})
        );
        assert_eq!(document["cipher"]["name"], "nacl/secretbox");
        let rng = SystemRandom::new();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
            .expect("a P-256 PKCS#8 key");
        assert!(open(&pem, "other").is_err());
    }

    #[test]
    fn the_sealed_box_is_nacls_tag_then_ciphertext() {
        // A NaCl secretbox is the 16-byte Poly1305 tag followed by the ciphertext, as Go's
        // `secretbox.Seal` (which cosign opens) writes it.
        let pem = encrypt(b"abc", "pw", &[1; 32], &[2; 24]).unwrap();
        let (document, opened) = open(&pem, "pw").unwrap();
        assert_eq!(opened, b"abc");
        let b64 = base64::engine::general_purpose::STANDARD;
        let sealed = b64
            .decode(document["ciphertext"].as_str().unwrap())
            .unwrap();
        assert_eq!(sealed.len(), 16 + 3);
    }
}
