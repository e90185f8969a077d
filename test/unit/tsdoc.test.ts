/**
 * Every exported symbol of the product (src/, lib/, lambda/) carries a TSDoc comment, and every
 * optional property of an exported interface says what its absence means (`@default`), as the
 * aws-cdk design guidelines ask of props. Read with the TypeScript compiler's own parser.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/project-root.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const FILES = ['src', 'lib', 'lambda'].flatMap((d) => sources(path.join(PROJECT_ROOT, d)));

function audit(): { undocumented: string[]; noDefault: string[] } {
  const undocumented: string[] = [];
  const noDefault: string[] = [];
  for (const file of FILES) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const where = path.relative(PROJECT_ROOT, file);
    for (const st of sf.statements) {
      const exported = ts.canHaveModifiers(st) && ts.getModifiers(st)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
      if (!exported || ts.isExportDeclaration(st)) continue;
      const name = ts.isVariableStatement(st)
        ? st.declarationList.declarations.map((d) => d.name.getText()).join(', ')
        : ((st as { name?: ts.Node }).name?.getText() ?? '(default)');
      if (ts.getJSDocCommentsAndTags(st).length === 0) undocumented.push(`${where}: ${name}`);
      if (!ts.isInterfaceDeclaration(st)) continue;
      for (const m of st.members) {
        if (ts.isPropertySignature(m) && m.questionToken && !ts.getJSDocTags(m).some((t) => t.tagName.getText() === 'default'))
          noDefault.push(`${where}: ${name}.${m.name.getText()}`);
      }
    }
  }
  return { undocumented, noDefault };
}

describe('the product API is documented', () => {
  const { undocumented, noDefault } = audit();

  it('reads the product sources', () => {
    expect(FILES.length).toBeGreaterThan(100);
  });

  it('every exported symbol has a TSDoc comment', () => {
    expect(undocumented).toEqual([]);
  });

  it('every optional property of an exported interface has @default', () => {
    expect(noDefault).toEqual([]);
  });
});
