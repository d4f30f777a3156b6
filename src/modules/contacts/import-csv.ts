import type { ImportRowError } from '../../platform/db/schema.js';
import { isValidEmail } from '../sending/index.js';

/** Limits of one CSV file (README, "Importing contacts"): everything read from the file is bounded. */
export const CSV_LIMITS = {
  /** one row, quotes and separators included; a longer one fails alone (csv-parse's max_record_size) */
  rowChars: 64 * 1024,
  columns: 100,
  headerChars: 100,
  /** a profile field (first name, company…) */
  fieldChars: 200,
  customValueChars: 1000,
  tags: 50,
  tagChars: 100,
} as const;

export type ProfileField = 'email' | 'first_name' | 'last_name' | 'name' | 'company_name' | 'job_title' | 'phone' | 'tags' | 'status';

/**
 * Header names as people and tools write them: compared without case, spaces, `_` or `-`, so `first_name`,
 * `firstName` and `First Name` are one column. Any other header is a custom field under its own name.
 */
const ALIASES: Record<string, ProfileField> = {
  email: 'email',
  emailaddress: 'email',
  firstname: 'first_name',
  lastname: 'last_name',
  name: 'name',
  fullname: 'name',
  company: 'company_name',
  companyname: 'company_name',
  jobtitle: 'job_title',
  phone: 'phone',
  phonenumber: 'phone',
  tags: 'tags',
  status: 'status',
};

const normalize = (header: string) => header.toLowerCase().replace(/[\s_-]+/g, '');

export interface ColumnMap {
  /** per column: a profile field, or the name of a custom field */
  columns: ({ field: ProfileField } | { custom: string })[];
  /** the header as written, for error reports */
  headers: string[];
}

/** The header row read as a column map; a string when the file cannot be imported at all. */
export function mapHeader(header: string[]): ColumnMap | string {
  if (header.length > CSV_LIMITS.columns) return `The header has ${header.length} columns; at most ${CSV_LIMITS.columns} are read`;
  const headers = header.map((h) => h.trim());
  const seen = new Set<string>();
  const columns: ColumnMap['columns'] = [];
  for (const [i, h] of headers.entries()) {
    if (h.length > CSV_LIMITS.headerChars) return `Column ${i + 1} has a header longer than ${CSV_LIMITS.headerChars} characters`;
    if (h.includes('\0')) return `Column ${i + 1} has a NUL character in its header`;
    const field = ALIASES[normalize(h)];
    const key = field ?? `custom:${h}`;
    if (seen.has(key)) return `Two columns are the same field (${JSON.stringify(h)}); keep one`;
    seen.add(key);
    columns.push(field ? { field } : { custom: h });
  }
  if (!seen.has('email')) return 'The file has no email column: its first row must name the columns, one of them "email"';
  return { columns, headers };
}

/** One valid row: the values it sets (absent: leave as is); empty cells set nothing. */
export interface ImportedRow {
  email: string;
  first_name?: string;
  last_name?: string;
  company_name?: string;
  job_title?: string;
  phone?: string;
  tags: string[];
  custom: Record<string, string>;
  /** the contact's state in the import's audience when the import adds it there */
  membership: 'subscribed' | 'unsubscribed';
}

/** A row as read: the contact it sets, or why it fails (row is the file line where the row ends; header = line 1). */
export function readRow(map: ColumnMap, record: string[], row: number): ImportedRow | ImportRowError {
  const fail = (column: string | null, reason: string): ImportRowError => ({ row, column, reason });
  if (record.length !== map.columns.length) return fail(null, `has ${record.length} columns; the header has ${map.columns.length}`);
  const out: ImportedRow = { email: '', tags: [], custom: {}, membership: 'subscribed' };
  let name: string | undefined;
  for (const [i, raw] of record.entries()) {
    const column = map.headers[i]!;
    const col = map.columns[i]!;
    const limit = 'custom' in col ? CSV_LIMITS.customValueChars : col.field === 'tags' ? CSV_LIMITS.tags * (CSV_LIMITS.tagChars + 1) : CSV_LIMITS.fieldChars;
    if (raw.length > limit) return fail(column, `is longer than ${limit} characters`);
    if (raw.includes('\0')) return fail(column, 'contains a NUL character');
    const value = raw.trim();
    if ('custom' in col) {
      if (value !== '') out.custom[col.custom] = value;
      continue;
    }
    switch (col.field) {
      case 'email':
        if (!isValidEmail(value)) return fail(column, value === '' ? 'is empty' : `is not a valid email address: ${JSON.stringify(value.slice(0, 100))}`);
        out.email = value;
        break;
      case 'name':
        if (value !== '') name = value;
        break;
      case 'tags': {
        // `;`, `|` or `,` (a comma only inside a quoted cell, where it is not a column separator)
        const tags = [...new Set(value.split(/[;|,]/).map((t) => t.trim()).filter((t) => t !== ''))];
        if (tags.length > CSV_LIMITS.tags) return fail(column, `has ${tags.length} tags; at most ${CSV_LIMITS.tags}`);
        const long = tags.find((t) => t.length > CSV_LIMITS.tagChars);
        if (long) return fail(column, `has a tag longer than ${CSV_LIMITS.tagChars} characters`);
        out.tags = tags;
        break;
      }
      case 'status': {
        const s = value.toLowerCase();
        if (s === 'unsubscribed') out.membership = 'unsubscribed';
        else if (s !== '' && s !== 'subscribed') return fail(column, `must be subscribed or unsubscribed, not ${JSON.stringify(value.slice(0, 50))}`);
        break;
      }
      default:
        if (value !== '') out[col.field] = value;
    }
  }
  // `name` fills the first and last names the row does not give (spec §4.3): the last word is the last name
  if (name !== undefined && out.first_name === undefined && out.last_name === undefined) {
    const space = name.lastIndexOf(' ');
    if (space < 0) out.first_name = name;
    else {
      out.first_name = name.slice(0, space).trim();
      out.last_name = name.slice(space + 1);
    }
  }
  return out;
}
