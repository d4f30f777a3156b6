import { sha256Hex } from '../../platform/crypto.js';
import type { Db } from '../../platform/db/database.js';
import type { TemplateRow, TemplateVersionRow } from '../../platform/db/schema.js';
import { ApiError } from '../../platform/http/errors.js';
import { isUuid, uuidv7 } from '../../platform/ids.js';
import type { ContentConfig } from '../../config/content-config.js';
import { parseBlocks, renderBlocks } from './blocks.js';
import { missingVariables, oneLine } from './engine.js';
import type { TemplateRenderer } from './renderer.js';
import * as store from './store.js';

import type { TemplateInput } from './schemas.js';

export interface SystemVariables {
  unsubscribeUrl: string;
  viewInBrowserUrl: string;
}

export interface RenderedTemplate {
  templateId: string;
  version: number;
  subject: string;
  html: string;
  text: string | null;
}

export function templateView(t: TemplateRow, v: TemplateVersionRow) {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    category: t.category,
    version: t.current_version,
    subject: v.subject,
    html: v.html,
    text: v.text_body,
    source_format: v.source_format,
    source: v.source,
    required_variables: v.required_variables,
    created_at: t.created_at.toISOString(),
    updated_at: t.updated_at.toISOString(),
  };
}

/**
 * Templates own subject, HTML and optional text, compiled with Handlebars. Every change is a new version;
 * an email renders the version that is current when it is accepted.
 */
export class TemplateService {
  constructor(
    private readonly db: Db,
    private readonly renderer: TemplateRenderer,
    private readonly limits: Pick<ContentConfig, 'templateMaxBytes'>,
  ) {}

  /** Sources are bounded before anything parses them: compilation time grows with their size. */
  private checkSize(field: string, value: string | undefined): void {
    if (value === undefined) return;
    const max = this.limits.templateMaxBytes;
    if (value.length > max || Buffer.byteLength(value) > max) {
      throw new ApiError('TEMPLATE_LIMIT_EXCEEDED', `Field '${field}' is larger than ${max} bytes (TEMPLATE_MAX_BYTES)`, { details: { limit: 'TEMPLATE_MAX_BYTES' } });
    }
  }

  /** Turns the body's content (html, MJML or blocks) into a version; `previous` fills what the body omits. */
  private async content(input: TemplateInput, previous?: TemplateVersionRow): Promise<store.VersionContent> {
    const mjmlSource = input.mjml;
    let html = input.html;
    this.checkSize('mjml', mjmlSource);
    this.checkSize('html', html);
    let sourceFormat: store.VersionContent['sourceFormat'] = 'html';
    let source: string | null = null;
    if (input.blocks !== undefined) {
      html = renderBlocks(parseBlocks(input.blocks));
      this.checkSize('blocks', html);
      sourceFormat = 'blocks';
      source = JSON.stringify(input.blocks);
    } else if (mjmlSource !== undefined || html?.trimStart().startsWith('<mjml')) {
      source = (mjmlSource ?? html)!;
      html = await this.renderer.compileMjml(source);
      sourceFormat = 'mjml';
    }
    const subject = input.subject ?? previous?.subject ?? '';
    const textBody = input.text ?? previous?.text_body ?? null;
    this.checkSize('subject', subject);
    if (textBody !== null) this.checkSize('text', textBody);
    const finalHtml = html ?? previous?.html;
    if (finalHtml === undefined || finalHtml.trim() === '') throw new ApiError('VALIDATION_ERROR', "Field 'html' is required (or 'mjml' or 'blocks')");
    const content: store.VersionContent = {
      subject: oneLine(subject),
      html: finalHtml,
      textBody,
      sourceFormat: html === undefined && previous ? previous.source_format : sourceFormat,
      source: html === undefined && previous ? previous.source : source,
      requiredVariables: input.requiredVariables ?? previous?.required_variables ?? [],
    };
    await this.renderer.check({ subject: content.subject, html: content.html, text: content.textBody });
    return content;
  }

  async save(workspaceId: string, input: TemplateInput) {
    if (input.id) return this.update(workspaceId, input.id, input);
    const name = input.name?.trim();
    if (!name) throw new ApiError('VALIDATION_ERROR', "Field 'name' is required");
    const content = await this.content(input);
    const row = await store.createTemplate(
      this.db,
      { id: uuidv7(), workspaceId, name, description: input.description ?? null, category: input.category ?? null },
      content,
    );
    return this.get(workspaceId, row.id);
  }

  async update(workspaceId: string, id: string, input: TemplateInput) {
    const current = await this.current(workspaceId, id);
    const content = await this.content(input, current.version);
    const meta: Partial<store.TemplateMeta> = {};
    const name = input.name?.trim();
    if (name) meta.name = name;
    if (input.description !== undefined) meta.description = input.description;
    if (input.category !== undefined) meta.category = input.category;
    if (!(await store.addVersion(this.db, workspaceId, id, meta, content))) throw new ApiError('NOT_FOUND', `Template ${id} not found`);
    return this.get(workspaceId, id);
  }

  private async current(workspaceId: string, id: string): Promise<{ template: TemplateRow; version: TemplateVersionRow }> {
    const template = isUuid(id) ? await store.findTemplate(this.db, workspaceId, id) : undefined;
    const version = template ? await store.findVersion(this.db, template.id, template.current_version) : undefined;
    if (!template || !version) throw new ApiError('NOT_FOUND', `Template ${id} not found`);
    return { template, version };
  }

  async get(workspaceId: string, id: string) {
    const { template, version } = await this.current(workspaceId, id);
    const versions = await store.listVersions(this.db, template.id);
    return { ...templateView(template, version), versions: versions.map((v) => ({ version: v.version, created_at: v.created_at.toISOString() })) };
  }

  async list(workspaceId: string) {
    const rows = await store.listTemplates(this.db, workspaceId);
    return rows.map((t) => ({ id: t.id, name: t.name, description: t.description, category: t.category, version: t.current_version, created_at: t.created_at.toISOString(), updated_at: t.updated_at.toISOString() }));
  }

  async delete(workspaceId: string, id: string): Promise<void> {
    if (!isUuid(id) || !(await store.softDelete(this.db, workspaceId, id))) throw new ApiError('NOT_FOUND', `Template ${id} not found`);
  }

  /** Preview (extension): renders a version with the given params; system URLs are example values. */
  async preview(workspaceId: string, id: string, params: Record<string, unknown>, version?: number): Promise<RenderedTemplate> {
    const { template, version: current } = await this.current(workspaceId, id);
    // versions run from 1 to the current one: anything else is not looked up (nor can overflow the integer column)
    const chosen =
      version === undefined || version === current.version ? current : version >= 1 && version < current.version ? await store.findVersion(this.db, template.id, version) : undefined;
    if (!chosen) throw new ApiError('NOT_FOUND', `Template ${id} has no version ${version}`);
    return this.render(chosen, params, { unsubscribeUrl: '#unsubscribe-preview', viewInBrowserUrl: '#view-in-browser-preview' });
  }

  /** For sending: an unknown template (or another workspace's) is INVALID_TEMPLATE, a missing required variable 422. */
  async renderForSend(workspaceId: string, id: string, params: Record<string, unknown>, system: SystemVariables): Promise<RenderedTemplate> {
    return this.render(await this.currentForSend(workspaceId, id), params, system);
  }

  /** The version an email accepted now renders; with renderVersion, many emails from one template look it up once. */
  async currentForSend(workspaceId: string, id: string): Promise<TemplateVersionRow> {
    const found = isUuid(id) ? await store.findTemplate(this.db, workspaceId, id) : undefined;
    const version = found ? await store.findVersion(this.db, found.id, found.current_version) : undefined;
    if (!found || !version) throw new ApiError('INVALID_TEMPLATE', `Template ${id} not found in this workspace`);
    return version;
  }

  renderVersion(version: TemplateVersionRow, params: Record<string, unknown>, system: SystemVariables): Promise<RenderedTemplate> {
    return this.render(version, params, system);
  }

  /**
   * A subject written outside a template (an automation's send_email step), with the same Handlebars renderer
   * and limits; compiled once per distinct source (the key is its hash).
   */
  async renderSubject(source: string, context: Record<string, unknown>): Promise<string> {
    const rendered = await this.renderer.render(`subject:${sha256Hex(source)}`, { subject: source, html: '', text: null }, context);
    return oneLine(rendered.subject);
  }

  private async render(v: TemplateVersionRow, params: Record<string, unknown>, system: SystemVariables): Promise<RenderedTemplate> {
    const missing = missingVariables(v.required_variables, params);
    if (missing.length > 0) {
      throw new ApiError('TEMPLATE_PARAMETER_MISSING', `Template parameter missing: ${missing.join(', ')}`, { details: { missing_variables: missing } });
    }
    // system variables win: a caller must not be able to point the unsubscribe link elsewhere
    const context = { ...params, ...system };
    const rendered = await this.renderer.render(`${v.template_id}:${v.version}`, { subject: v.subject, html: v.html, text: v.text_body }, context);
    return { templateId: v.template_id, version: v.version, subject: oneLine(rendered.subject), html: rendered.html, text: rendered.text };
  }
}
