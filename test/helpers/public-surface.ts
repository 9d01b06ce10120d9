/**
 * The public surface of the package's entry points, read by the TypeScript compiler:
 * every exported name (values and types), and the named types that public signatures
 * reach but no entry point exports (a consumer could not name them). "Reach" follows
 * parameter and return types of exported functions and of public methods, and property
 * types of exported interfaces and classes, recursively; members marked `@internal`,
 * private and `#` members, and types declared outside the repository are skipped; a
 * type-only export of a class counts its instance side only.
 */
import ts from 'typescript';
import { relative } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** What {@link publicSurface} finds. */
export interface PublicSurface {
  /** Exported names per entry (the path given), sorted. */
  exports: Record<string, string[]>;
  /** Named types reached from public signatures but exported by no entry, by name: the first path that reached it and the declaring file. */
  unnamed: Record<string, string>;
}

/** The surface of `entries` (paths relative to the repository root). */
export function publicSurface(entries: readonly string[]): PublicSurface {
  const files = entries.map((e) => `${REPO_ROOT}/${e}`);
  const program = ts.createProgram(files, {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const exported = new Set<ts.Symbol>();
  const roots: { symbol: ts.Symbol; typeOnly: boolean }[] = [];
  const exports: Record<string, string[]> = {};
  files.forEach((file, i) => {
    const source = program.getSourceFile(file);
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`cannot read ${entries[i]}`);
    const names: string[] = [];
    for (const s of checker.getExportsOfModule(moduleSymbol)) {
      names.push(s.name);
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      exported.add(target);
      const typeOnly = (s.declarations ?? []).some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly));
      roots.push({ symbol: target, typeOnly });
    }
    exports[entries[i]] = names.sort();
  });

  const seen = new Set<ts.Symbol>();
  const unnamed: Record<string, string> = {};
  const ours = (d: ts.Declaration) => !d.getSourceFile().fileName.includes('/node_modules/') && d.getSourceFile().fileName.startsWith(REPO_ROOT);
  const internal = (d: ts.Node) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'internal');
  const NAMED = ts.SymbolFlags.Interface | ts.SymbolFlags.Class | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Enum;

  const visitType = (type: ts.Type, via: string): void => {
    if (type.isUnionOrIntersection()) {
      for (const t of type.types) visitType(t, via);
      return;
    }
    for (const a of type.aliasTypeArguments ?? []) visitType(a, via);
    if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      for (const a of checker.getTypeArguments(type as ts.TypeReference)) visitType(a, via);
    }
    const symbol = type.aliasSymbol ?? type.getSymbol();
    const decl = symbol?.declarations?.[0];
    if (symbol === undefined || decl === undefined || !ours(decl)) return;
    const named = (symbol.flags & NAMED) !== 0;
    if (named && !exported.has(symbol) && !(symbol.name in unnamed)) {
      unnamed[symbol.name] = `${via} (${relative(REPO_ROOT, decl.getSourceFile().fileName)})`;
    }
    if (seen.has(symbol)) return;
    seen.add(symbol);
    visitMembers(type, named ? symbol.name : via);
  };

  const visitMembers = (type: ts.Type, via: string): void => {
    for (const p of checker.getPropertiesOfType(type)) {
      const d = p.valueDeclaration ?? p.declarations?.[0];
      if (d === undefined || p.name.startsWith('#') || p.name.startsWith('__') || internal(d)) continue;
      if (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
      visitType(checker.getTypeOfSymbolAtLocation(p, d), `${via}.${p.name}`);
    }
    for (const sig of [...type.getCallSignatures(), ...type.getConstructSignatures()]) {
      if (sig.declaration !== undefined && internal(sig.declaration)) continue;
      for (const p of sig.getParameters()) visitType(checker.getTypeOfSymbol(p), `${via}(${p.name})`);
      visitType(sig.getReturnType(), `${via}()`);
    }
  };

  for (const { symbol, typeOnly } of roots) {
    const decl = symbol.declarations?.[0];
    if (decl === undefined) continue;
    if (symbol.flags & NAMED) visitType(checker.getDeclaredTypeOfSymbol(symbol), symbol.name);
    if (symbol.flags & ts.SymbolFlags.Value && !typeOnly) visitMembers(checker.getTypeOfSymbolAtLocation(symbol, decl), symbol.name);
  }
  return { exports, unnamed };
}
