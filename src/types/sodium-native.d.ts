// The part of sodium-native (libsodium's bindings) this project calls; the package ships no types.
declare module 'sodium-native' {
  interface Sodium {
    /** Seals `m` into `c` (`m.length` + ABYTES bytes, the tag last); answers the bytes written. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      c: Uint8Array,
      m: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;
    /** Opens `c` into `m` (`c.length` − ABYTES bytes); throws when the tag does not verify. */
    crypto_aead_xchacha20poly1305_ietf_decrypt(
      m: Uint8Array,
      nsec: null,
      c: Uint8Array,
      ad: Uint8Array | null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;
  }
  const sodium: Sodium;
  export default sodium;
}
