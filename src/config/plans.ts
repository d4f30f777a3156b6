// The plan names, apart from the rest of the configuration so that the CLI can check and show them
// without loading the server (its --help and usage errors answer at once).
export const PLANS = ['FREE', 'LAUNCH', 'CUSTOM', 'ENTERPRISE'] as const;
export type Plan = (typeof PLANS)[number];
