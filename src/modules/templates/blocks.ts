import { ApiError } from '../../platform/http/errors.js';

/**
 * The dashboard's block form of a template ({type, content, styles}) rendered to email-safe HTML: one
 * centred table, inline styles only. Text is HTML-escaped but Handlebars expressions pass through untouched.
 */
export interface Block {
  type: string;
  content?: Record<string, unknown>;
  styles?: Record<string, unknown>;
}

const escapeHtml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const first = (c: Record<string, unknown>, ...keys: string[]): string => keys.map((k) => str(c[k])).find((v) => v !== '') ?? '';

const CSS_PROPERTY = /^[a-zA-Z-]{1,40}$/;
const CSS_VALUE = /^[^;{}<>"]{0,200}$/;

function styleAttr(styles: Record<string, unknown> | undefined, base: string): string {
  const extra = Object.entries(styles ?? {})
    .map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`), str(v)] as const)
    .filter(([k, v]) => CSS_PROPERTY.test(k) && v !== '' && CSS_VALUE.test(v))
    .map(([k, v]) => `${k}:${v}`)
    .join(';');
  return ` style="${escapeHtml([base, extra].filter(Boolean).join(';'))}"`;
}

const SAFE_URL = /^(https?:|mailto:|\{\{)/i;
const safeUrl = (u: string): string => (SAFE_URL.test(u.trim()) ? escapeHtml(u.trim()) : '#');

function renderBlock(block: Block, index: number): string {
  const c = block.content ?? {};
  switch (block.type) {
    case 'header':
    case 'heading':
      return `<h1${styleAttr(block.styles, 'margin:0 0 16px;font-size:24px')}>${escapeHtml(first(c, 'text', 'title', 'content'))}</h1>`;
    case 'text':
    case 'paragraph':
      return `<p${styleAttr(block.styles, 'margin:0 0 16px;line-height:1.5')}>${escapeHtml(first(c, 'text', 'content')).replace(/\n/g, '<br>')}</p>`;
    case 'button':
      return `<p${styleAttr(undefined, 'margin:0 0 16px')}><a href="${safeUrl(first(c, 'url', 'href', 'link'))}"${styleAttr(block.styles, 'display:inline-block;padding:12px 20px;background:#111827;color:#ffffff;text-decoration:none;border-radius:6px')}>${escapeHtml(first(c, 'text', 'label'))}</a></p>`;
    case 'image':
      return `<p${styleAttr(undefined, 'margin:0 0 16px')}><img src="${safeUrl(first(c, 'src', 'url'))}" alt="${escapeHtml(first(c, 'alt'))}"${styleAttr(block.styles, 'max-width:100%;height:auto')}></p>`;
    case 'divider':
      return `<hr${styleAttr(block.styles, 'border:none;border-top:1px solid #e5e7eb;margin:16px 0')}>`;
    case 'spacer':
      return `<div${styleAttr(block.styles, `height:${Number(c.height) > 0 ? Math.min(Number(c.height), 200) : 16}px`)}></div>`;
    case 'footer':
      return `<p${styleAttr(block.styles, 'margin:24px 0 0;font-size:12px;color:#6b7280')}>${escapeHtml(first(c, 'text', 'content'))}</p>`;
    case 'html':
      return first(c, 'html', 'content');
    default:
      throw new ApiError('VALIDATION_ERROR', `Field 'blocks[${index}].type' is not a known block type: ${JSON.stringify(block.type)}`);
  }
}

export function parseBlocks(value: unknown): Block[] {
  if (!Array.isArray(value)) throw new ApiError('VALIDATION_ERROR', "Field 'blocks' must be an array");
  return value.map((b, i) => {
    if (typeof b !== 'object' || b === null || typeof (b as Block).type !== 'string') {
      throw new ApiError('VALIDATION_ERROR', `Field 'blocks[${i}]' must be an object with a 'type'`);
    }
    return b as Block;
  });
}

export function renderBlocks(blocks: Block[]): string {
  const body = blocks.map(renderBlock).join('\n');
  return `<!doctype html><html><body style="margin:0;padding:0;background:#f9fafb"><table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px"><table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;font-family:Arial,Helvetica,sans-serif;color:#111827"><tr><td style="padding:32px">\n${body}\n</td></tr></table></td></tr></table></body></html>`;
}
