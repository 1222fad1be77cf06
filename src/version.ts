/** meshnet's release version, printed by `meshnet version` and `--version` and sent in the handshake. */
export const VERSION = "0.1.0";
