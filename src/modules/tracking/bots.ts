/**
 * Fetches of a tracking URL that are not a person opening the email or following a link (README, "Tracking"):
 * mail providers' image proxies, the link scanners of mail security products, link-preview fetchers of chat
 * apps and social sites, and command-line clients. They are recorded with `bot: true` and kept out of the
 * counts (and webhooks). Matched as case-insensitive substrings of the User-Agent; the list is the README's.
 *
 * An image proxy fetches the pixel for the reader (Gmail's fetches when the message is opened, then caches it),
 * so counting only people means Gmail opens are not counted; the issue that asked for tracking chose this.
 */
export const BOT_USER_AGENTS: readonly { match: string; what: string }[] = [
  // image proxies of mail providers
  { match: 'googleimageproxy', what: "Gmail's image proxy" },
  { match: 'yahoomailproxy', what: 'Yahoo Mail image proxy' },
  { match: 'ymailproxy', what: 'Yahoo Mail image proxy' },
  // link scanners of mail security products
  { match: 'bingpreview', what: "Microsoft's link preview (Outlook.com, Bing)" },
  { match: 'microsoft-urlanalyzer', what: 'Microsoft Defender Safe Links' },
  { match: 'safelinks', what: 'Microsoft Defender Safe Links' },
  { match: 'barracuda', what: 'Barracuda Email Security' },
  { match: 'mimecast', what: 'Mimecast URL Protect' },
  { match: 'proofpoint', what: 'Proofpoint URL Defense' },
  { match: 'symantec', what: 'Symantec (Broadcom) Email Security' },
  { match: 'ironport', what: 'Cisco Secure Email (IronPort)' },
  { match: 'forcepoint', what: 'Forcepoint Email Security' },
  { match: 'sophos', what: 'Sophos Email' },
  { match: 'trendmicro', what: 'Trend Micro Email Security' },
  { match: 'fortinet', what: 'Fortinet FortiMail' },
  // link previews of chat apps and social sites
  { match: 'slackbot', what: 'Slack link preview' },
  { match: 'twitterbot', what: 'X (Twitter) link preview' },
  { match: 'facebookexternalhit', what: 'Facebook link preview' },
  { match: 'linkedinbot', what: 'LinkedIn link preview' },
  { match: 'discordbot', what: 'Discord link preview' },
  { match: 'telegrambot', what: 'Telegram link preview' },
  { match: 'whatsapp', what: 'WhatsApp link preview' },
  { match: 'skypeuripreview', what: 'Skype / Teams link preview' },
  // crawlers and command-line clients
  { match: 'googlebot', what: 'Google crawler' },
  { match: 'bingbot', what: 'Bing crawler' },
  { match: 'curl/', what: 'curl' },
  { match: 'wget/', what: 'Wget' },
  { match: 'python-requests', what: 'Python requests' },
  { match: 'go-http-client', what: 'Go HTTP client' },
];

/** Only the start of a User-Agent is matched (and kept in the event): long enough for every entry above. */
export const USER_AGENT_CHARS = 256;

const MATCHES = BOT_USER_AGENTS.map((b) => b.match);

/** Whether a request's User-Agent is a known bot; a missing or empty one is too (every mail client sends one). */
export function isBotUserAgent(userAgent: string | undefined): boolean {
  if (!userAgent) return true;
  const ua = userAgent.slice(0, USER_AGENT_CHARS).toLowerCase();
  return MATCHES.some((m) => ua.includes(m));
}
