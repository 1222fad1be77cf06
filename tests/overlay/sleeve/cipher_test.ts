import assert from "node:assert/strict";
import { agreedCipher } from "../../../src/overlay/sleeve/cipher.ts";

const BOTH = ["aes256gcm", "xsalsa20poly1305"];
const SALSA = ["xsalsa20poly1305"];

Deno.test("agreedCipher(): both ends pick the same cipher whatever order each offers in", () => {
  for (
    const [ours, theirs, want] of [
      [BOTH, BOTH, "aes256gcm"],
      [BOTH, [...BOTH].reverse(), "aes256gcm"],
      [BOTH, SALSA, "xsalsa20poly1305"],
      [SALSA, BOTH, "xsalsa20poly1305"],
      [BOTH, [], "xsalsa20poly1305"],
      [BOTH, ["rot13"], "xsalsa20poly1305"],
    ] as const
  ) {
    assert.equal(agreedCipher(ours, theirs), want, `${ours} / ${theirs}`);
    assert.equal(agreedCipher(theirs, ours), want, `${theirs} / ${ours}`);
  }
});
