// The delivery regions, apart from the domain settings so that the CLI can check and show them without
// loading the mail code.
/** Where a custom domain's mail is sent from; fixed when the domain is added. */
export const REGIONS = ['us-east-1', 'ap-southeast-1', 'af-south-1'] as const;
export type Region = (typeof REGIONS)[number];
