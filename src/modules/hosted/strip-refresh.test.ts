import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stripRefreshMeta } from './strip-refresh.js';

const REFRESH_SPELLINGS = [
  '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
  "<meta http-equiv='refresh' content='0;url=https://evil.example/'>",
  '<meta http-equiv=refresh content=0;url=https://evil.example/>',
  '<META HTTP-EQUIV="REFRESH" CONTENT="0;URL=https://evil.example/">',
  '<MeTa\n\thttp-equiv = "Refresh"\ncontent="0; url=https://evil.example/" >',
  '<meta content="0;url=https://evil.example/" http-equiv="refresh">',
  '<meta name="x" content="0;url=https://evil.example/" http-equiv=" refresh ">',
  '<meta/http-equiv=refresh/content=0;url=https://evil.example/>',
  '<meta http-equiv="&#114;efresh" content="0;url=https://evil.example/">',
  '<meta http-equiv="&#x52;&#X45;fresh" content="0;url=https://evil.example/">',
  '<meta http-equiv="refresh" content="0;url=https://evil.example/"/>',
  '<meta data-a="x>y" http-equiv="refresh" content="0;url=https://evil.example/">',
];

const page = (inner: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">${inner}<title>Hi</title></head>` +
  `<body><p class="x">Hello <b>there</b> &amp; welcome</p><img src="https://cdn.example/logo.png" alt="logo"></body></html>`;

describe('stripRefreshMeta', () => {
  it('removes refresh meta tags in every spelling and keeps the rest of the HTML as it was', () => {
    for (const tag of REFRESH_SPELLINGS) {
      const out = stripRefreshMeta(page(tag));
      expect(out, tag).toBe(page('<!---->'));
    }
  });

  it('leaves HTML without refresh tags unchanged, other meta tags included', () => {
    const html = page('<meta name="color-scheme" content="light dark"><meta property="og:title" content="refresh your inbox">');
    expect(stripRefreshMeta(html)).toBe(html);
  });

  it('removes several refresh tags of one document', () => {
    expect(stripRefreshMeta(`a${REFRESH_SPELLINGS.join('b')}c`)).toBe(`a${REFRESH_SPELLINGS.map(() => '<!---->').join('b')}c`);
  });

  it('never lets the text around a removed tag join into a new refresh tag', () => {
    const joins = [
      '<me<meta http-equiv=refresh>ta http-equiv=refresh content=0;url=https://evil.example/>',
      '<meta<meta http-equiv=refresh> http-equiv=refresh content=0;url=https://evil.example/>',
      '<meta http-equiv=re<meta http-equiv=refresh>fresh content=0>',
    ];
    for (const html of joins) {
      const out = stripRefreshMeta(html);
      expect(out.toLowerCase(), html).not.toContain('http-equiv');
      expect(stripRefreshMeta(out)).toBe(out);
    }
  });

  it('makes a refresh tag hidden from the tag scan inert (comments, other attributes, raw text)', () => {
    const hidden = [
      '<!-- <meta name="x --> <meta http-equiv=refresh content=0;url=https://evil.example/> "> -->',
      `<img alt="<meta name='" > <meta http-equiv=refresh content=0;url=https://evil.example/> '>`,
      '<noscript><meta name="</noscript><meta http-equiv=refresh content=0>">',
    ];
    for (const html of hidden) expect(stripRefreshMeta(html).toLowerCase(), html).not.toContain('http-equiv');
  });

  it('property: the result never holds an http-equiv attribute and stripping twice changes nothing', () => {
    const pieces = ['<', '>', '<meta', '<META', 'me', 'ta', ' ', '\n', '/', '=', '"', "'", 'http-equiv', 'HTTP-', 'equiv', 'refresh', '&#114;', 'content=0', '<!--', '-->', 'x'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
        const out = stripRefreshMeta(parts.join(''));
        expect(out.toLowerCase()).not.toContain('http-equiv');
        expect(stripRefreshMeta(out)).toBe(out);
      }),
      { numRuns: 3000 },
    );
  });

  it('is linear on hostile input of 10 MB', () => {
    const inputs = [
      '<meta '.repeat(2_000_000),
      '<meta a="'.repeat(1_200_000),
      '<meta http-equiv=refresh>'.repeat(400_000),
      '&#'.repeat(5_000_000),
      `<meta http-equiv="${'&#1'.repeat(3_000_000)}">`,
    ];
    for (const input of inputs) {
      const started = Date.now();
      stripRefreshMeta(input);
      expect(Date.now() - started, input.slice(0, 20)).toBeLessThan(5_000);
    }
  });
});
