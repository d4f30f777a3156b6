import { describe, expect, it } from 'vitest';
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
});

describe('decodeHtmlEntities', () => {
  it('replaces invalid code points with U+FFFD instead of throwing', () => {
    expect(decodeHtmlEntities('&#0;&#x110000;&#xD800;')).toBe('\ufffd\ufffd\ufffd');
  });

  it('leaves unknown entities alone', () => {
    expect(decodeHtmlEntities('&bogus; &amp')).toBe('&bogus; &amp');
  });
});
