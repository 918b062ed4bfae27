// Start-up help for the bundles: webpack (inside ncc) puts each module in a
// factory function, `12345:(e,t,n)=>{...}`, called when the module is first
// required. V8 compiles a function lazily: it pre-parses the factory when
// the file loads and parses it again in full at the first call, so every
// module that runs at start is parsed twice (for the 4 MB Kubernetes client
// chunk, most of the cost of loading it). A function expression in
// parentheses is one V8 expects to be called soon and compiles at once, in a
// single parse; this rewrites each factory into that form. Measured with
// `npm run bench -- startup`: validate and plan both start faster.
import * as acorn from 'acorn';

/**
 * The factories of a bundle file: the values of its module table, the
 * largest object whose keys are module ids and whose values are all
 * functions (`var t={...}` in a main file, `export const modules={...}` in a
 * chunk). None when the file has no such table.
 */
function factories(ast) {
  const isFactory = (v) => v.type === 'ArrowFunctionExpression' || v.type === 'FunctionExpression';
  let best = [];
  const visit = (node) => {
    if (!node || typeof node.type !== 'string') return;
    if (
      node.type === 'ObjectExpression' &&
      node.properties.length > best.length &&
      node.properties.every((p) => p.type === 'Property' && typeof p.key.value === 'number' && isFactory(p.value))
    ) {
      best = node.properties.map((p) => p.value);
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value.type === 'string') visit(value);
    }
  };
  visit(ast);
  return best;
}

/**
 * Whether an arrow function's body uses `this` or `arguments` of its own
 * scope: those would change meaning in a `function`. Nested functions and
 * class members have their own and are not looked into.
 */
function usesOwnThisOrArguments(body) {
  let found = false;
  const visit = (node) => {
    if (found || !node || typeof node.type !== 'string') return;
    if (node.type === 'ThisExpression' || (node.type === 'Identifier' && node.name === 'arguments')) {
      found = true;
      return;
    }
    if (node.type === 'FunctionExpression' || node.type === 'FunctionDeclaration') return;
    if (node.type === 'ClassBody') {
      for (const member of node.body) if (member.computed) visit(member.key);
      return;
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(visit);
      else if (value && typeof value.type === 'string') visit(value);
    }
  };
  visit(body);
  return found;
}

/** The bundle file's code with every factory as a parenthesized function expression. */
export function eagerFactories(code) {
  const ast = acorn.parse(code, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true });
  const edits = [];
  for (const f of factories(ast)) {
    if (f.type === 'FunctionExpression') {
      edits.push({ start: f.start, end: f.end, text: `(${code.slice(f.start, f.end)})` });
    } else if (f.body.type === 'BlockStatement' && !f.async && !usesOwnThisOrArguments(f.body)) {
      const params = f.params.map((p) => code.slice(p.start, p.end)).join(',');
      edits.push({ start: f.start, end: f.end, text: `(function(${params})${code.slice(f.body.start, f.body.end)})` });
    }
  }
  let out = code;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}
