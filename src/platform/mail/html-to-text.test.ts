import { describe, expect, it } from 'vitest';
import { cpuTimeOf, linearBoundMs, megabytesOf } from '../../../test/support/cpu-time.js';
import { decodeHtmlEntities, htmlToText } from './html-to-text.js';

describe('htmlToText', () => {
  it('turns block elements into lines and paragraphs', () => {
    const html = '<h1>Welcome</h1><p>First paragraph.</p><div>A line</div><p>Two<br>lines</p>';
    expect(htmlToText(html)).toBe('Welcome\n\nFirst paragraph.\n\nA line\n\nTwo\nlines');
    expect(htmlToText('<div>One</div><div>Two</div>')).toBe('One\nTwo');
  });

  it('collapses source whitespace and indentation', () => {
    const html = `
      <html>
        <body>
          <p>
            Hello
               there,
            friend
          </p>
        </body>
      </html>`;
    expect(htmlToText(html)).toBe('Hello there, friend');
  });

  it('keeps link targets as "text (url)"', () => {
    expect(htmlToText('<p>Visit <a href="https://example.test/x?a=1&amp;b=2">our shop</a> today</p>')).toBe(
      'Visit our shop (https://example.test/x?a=1&b=2) today',
    );
  });

  it('does not repeat a URL that is already the link text, and shows bare links', () => {
    expect(htmlToText('<a href="https://example.test">https://example.test</a>')).toBe('https://example.test');
    expect(htmlToText('<a href="https://example.test/img"><img src="x.png"></a>')).toBe('https://example.test/img');
    expect(htmlToText('<a href="mailto:help@example.test">help@example.test</a>')).toBe('help@example.test');
    expect(htmlToText('<a href="mailto:help@example.test">Write to us</a>')).toBe('Write to us (help@example.test)');
  });

  it('drops in-page anchors and javascript: links', () => {
    expect(htmlToText('<a href="#top">Back to top</a> <a href="javascript:void(0)">Click</a>')).toBe('Back to top Click');
  });

  it('decodes named and numeric entities', () => {
    expect(htmlToText('<p>Fish &amp; Chips &lt;3 &quot;yes&quot; &#39;no&#39; &copy; 2024 &#x1F600; caf&eacute;</p>')).toBe(
      'Fish & Chips <3 "yes" \'no\' © 2024 😀 café',
    );
    expect(htmlToText('a&nbsp;b')).toBe('a b');
  });

  it('skips head, style, script and comments', () => {
    const html =
      '<html><head><title>Ignored title</title><style>p { color: red }</style></head>' +
      '<body><!-- hidden --><script>alert("x")</script><p>Visible</p></body></html>';
    expect(htmlToText(html)).toBe('Visible');
  });

  it('renders lists, table cells and image alt text readably', () => {
    expect(htmlToText('<ul><li>One</li><li>Two</li></ul><p>After</p>')).toBe('- One\n- Two\n\nAfter');
    expect(htmlToText('<table><tr><td>Name</td><td>Value</td></tr><tr><td>a</td><td>1</td></tr></table>')).toBe(
      'Name Value\na 1',
    );
    expect(htmlToText('<p><img src="logo.png" alt="ACME logo">Hi</p>')).toBe('ACME logo Hi');
  });

  it('preserves the layout of <pre> blocks', () => {
    expect(htmlToText('<p>Code:</p><pre>  indented\n    more</pre>')).toBe('Code:\n\n  indented\n    more');
  });

  it('treats a stray "<" as text', () => {
    expect(htmlToText('1 < 2 and 3 > 2')).toBe('1 < 2 and 3 > 2');
  });

  it('reads malformed markup as before: unclosed tags and quotes are text, an unclosed comment or script hides the rest', () => {
    expect(htmlToText('<a<b>c')).toBe('c');
    expect(htmlToText('<a "<b>c')).toBe('<a "c');
    expect(htmlToText('<a href="x>y">z</a>')).toBe('z (x>y)');
    expect(htmlToText('<p>a<!-- b <p>c')).toBe('a');
    expect(htmlToText('a<script>b</scriptx></SCRIPT  >c')).toBe('ac');
    expect(htmlToText('a<style/>b')).toBe('ab');
    expect(htmlToText('a <! b')).toBe('a <! b');
    expect(htmlToText('<img alt=\'it"s\' src=x><img alt="unclosed>')).toBe('it"s <img alt="unclosed>');
    expect(htmlToText('<a href=" https://example.test ">\n  https://example.test\n</a>')).toBe('https://example.test');
    expect(htmlToText('<a href=u><a href=v></a></a>')).toBe('v (u)');
  });

  it('keeps a link\'s text to what was written inside it', () => {
    // trailing spaces of a <pre> dropped before a line break are not part of the link that follows them
    expect(htmlToText('<pre>foo   <a href="u"><br>x</a></pre>')).toBe('foo\nx (u)');
  });
});

describe('htmlToText is linear on hostile input', () => {
  const nestedLinks = (megabytes: number) => {
    const depth = (megabytes * 1024 * 1024) / 40;
    return `${'<a href="https://example.test/">'.repeat(depth)}text${'</a>'.repeat(depth)}`;
  };
  const cases: [string, (megabytes: number) => string, (text: string, html: string) => void][] = [
    ['"<a" repeated (tags that never close)', (mb) => megabytesOf('<a', mb), (text, html) => expect(text).toBe(html)],
    ['"x<br>" repeated (a line break each time)', (mb) => megabytesOf('x<br>', mb), (text) => expect(text.startsWith('x\nx\nx\n')).toBe(true)],
    ['"<a \\"" repeated (quotes that never close)', (mb) => megabytesOf('<a "', mb), (text, html) => expect(text).toBe(html)],
    ['"<b \'" repeated', (mb) => megabytesOf("<b '", mb), (text, html) => expect(text).toBe(html)],
    ['"<a b=\\"<a>\\"" repeated (tags inside quotes)', (mb) => megabytesOf('<a b="<a>"', mb), (text) => expect(text.startsWith('"<a b="')).toBe(false)],
    ['"<!--" repeated (a comment never closed)', (mb) => megabytesOf('<!--', mb), (text) => expect(text).toBe('')],
    ['"<!" repeated (declarations never closed)', (mb) => megabytesOf('<!', mb), (text, html) => expect(text).toBe(html)],
    ['"<script>" never closed', (mb) => `<script>${megabytesOf('</scrip x', mb)}`, (text) => expect(text).toBe('')],
    ['"&#" repeated', (mb) => megabytesOf('&#', mb), (text, html) => expect(text).toBe(html)],
    ['links with their URLs', (mb) => megabytesOf('<a href="https://example.test/">link</a> ', mb), (text) => expect(text.startsWith('link (https://example.test/) link')).toBe(true)],
    ['links nested thousands deep', nestedLinks, (text) => expect(text.startsWith('text (https://example.test/)')).toBe(true)],
    ['one tag with a million attributes', (mb) => `<img ${'a="b" alt=x '.repeat((mb * 1024 * 1024) / 12)}>`, (text) => expect(text).toBe('x')],
    ['an attribute value never closed', (mb) => `<a href="${megabytesOf('x', mb)}`, (text) => expect(text.startsWith('<a href="xxx')).toBe(true)],
    ['white space inside <pre> before line breaks', (mb) => `<pre>${megabytesOf('x   <a href=u><br>y</a>', mb)}`, (text) => expect(text.startsWith('x\ny (u)x\ny (u)')).toBe(true)],
    ['a megabyte-long run of white space', (mb) => `<p>a${' \t\n'.repeat((mb * 1024 * 1024) / 3)}b</p>`, (text) => expect(text).toBe('a b')],
  ];
  describe.each([1, 10])('%i MB', (megabytes) => {
    it.each(cases)('%s', (_name, make, check) => {
      const html = make(megabytes);
      const { result, ms } = cpuTimeOf(() => htmlToText(html));
      check(result, html);
      expect(ms).toBeLessThan(linearBoundMs(megabytes));
    });
  });
});

describe('decodeHtmlEntities', () => {
  it('replaces invalid code points with U+FFFD instead of throwing', () => {
    expect(decodeHtmlEntities('&#0;&#x110000;&#xD800;')).toBe('\ufffd\ufffd\ufffd');
  });

  it('leaves unknown entities alone', () => {
    expect(decodeHtmlEntities('&bogus; &amp')).toBe('&bogus; &amp');
  });

  it.each([1, 10])('is linear on %i MB of almost-entities', (megabytes) => {
    for (const unit of ['&#', '&#x', `&${'a'.repeat(40)}`, '&amp;']) {
      const text = megabytesOf(unit, megabytes);
      const { result, ms } = cpuTimeOf(() => decodeHtmlEntities(text));
      expect(result.length).toBe(unit === '&amp;' ? Math.ceil(text.length / 5) : text.length);
      expect(ms).toBeLessThan(linearBoundMs(megabytes));
    }
  });
});
