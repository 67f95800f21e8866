// The API reference at /api/docs: renders /api/openapi.json with the dashboard's look (no CDN).

import { h, mount } from "./dom.js";

const METHOD_BADGE = { get: "blue", post: "green", put: "amber", patch: "amber", delete: "red" };

/** The schema a "$ref" points at, or the schema itself. */
function resolve(doc, schema) {
  const ref = schema && schema.$ref;
  return ref ? doc.components.schemas[ref.split("/").pop()] || {} : schema || {};
}

/** A short type name: "string", "CallSummary[]", "integer | null". */
function typeName(doc, schema) {
  if (!schema) return "any";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map((s) => typeName(doc, s)).join(" | ");
  if (schema.type === "array") return `${typeName(doc, schema.items)}[]`;
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (schema.format) return `${schema.type} (${schema.format})`;
  return schema.type || (schema.additionalProperties ? "object" : "any");
}

/** The named schemas a schema refers to, for "see also" links. */
function refsOf(schema, found = new Set()) {
  if (!schema || typeof schema !== "object") return found;
  if (schema.$ref) found.add(schema.$ref.split("/").pop());
  for (const value of Object.values(schema)) if (typeof value === "object") refsOf(value, found);
  return found;
}

function fieldsTable(doc, schema) {
  const target = resolve(doc, schema);
  const props = Object.entries(target.properties || {});
  if (!props.length) return h("p", { class: "muted" }, typeName(doc, schema));
  const required = new Set(target.required || []);
  return h("div", { class: "table-wrap" }, h("table", { class: "table docs-fields" },
    h("thead", null, h("tr", null, h("th", null, "field"), h("th", null, "type"), h("th", null, ""))),
    h("tbody", null, props.map(([name, prop]) => h("tr", null,
      h("td", null, h("code", null, name)),
      h("td", null, schemaLink(doc, prop)),
      h("td", { class: "muted" }, [required.has(name) ? "required" : "", prop.description ? ` ${prop.description}` : ""].join(""))
    )))
  ));
}

function schemaLink(doc, schema) {
  const name = typeName(doc, schema);
  const refs = [...refsOf(schema)];
  return refs.length === 1 ? h("a", { href: `#schema-${refs[0]}` }, h("code", null, name)) : h("code", null, name);
}

function parametersTable(params) {
  if (!params.length) return null;
  return h("div", { class: "table-wrap" }, h("table", { class: "table docs-fields" },
    h("thead", null, h("tr", null, h("th", null, "parameter"), h("th", null, "in"), h("th", null, "type"), h("th", null, ""))),
    h("tbody", null, params.map((p) => h("tr", null,
      h("td", null, h("code", null, p.name)),
      h("td", { class: "muted" }, p.in),
      h("td", null, h("code", null, typeName(null, p.schema))),
      h("td", { class: "muted" }, [p.required ? "required" : "", p.description || ""].filter(Boolean).join(" · "))
    )))
  ));
}

function responses(doc, op) {
  return Object.entries(op.responses).map(([status, answer]) => {
    const content = Object.entries(answer.content || {})[0];
    return h("div", { class: "docs-response" },
      h("span", { class: ["badge", status.startsWith("2") ? "green" : "gray"] }, status),
      h("span", null, answer.description),
      content ? h("span", { class: "muted" }, " ", content[0], " ", schemaLink(doc, content[1].schema)) : null
    );
  });
}

function operation(doc, path, method, op) {
  const body = op.requestBody && Object.entries(op.requestBody.content)[0];
  const id = `op-${method}-${path.replace(/[^a-z0-9]+/gi, "-")}`;
  return h("section", { class: "card docs-op", id, dataset: { method, path } },
    h("div", { class: "card-head" },
      h("div", { class: "docs-op-title" },
        h("span", { class: ["badge", "docs-method", METHOD_BADGE[method]] }, method.toUpperCase()),
        h("code", null, path)),
      op.security && op.security.length === 0 ? h("span", { class: "badge" }, "no key needed") : null),
    h("div", { class: "card-body docs-op-body" },
      h("p", null, op.summary),
      parametersTable(op.parameters || []),
      body ? h("div", null, h("h3", null, `Body (${body[0]})`), fieldsTable(doc, body[1].schema)) : null,
      h("h3", null, "Answers"),
      responses(doc, op))
  );
}

function schemaSection(doc, name, schema) {
  return h("section", { class: "card", id: `schema-${name}` },
    h("div", { class: "card-head" }, h("h2", null, name),
      schema.description ? h("span", { class: "sub" }, schema.description.split("\n")[0]) : null),
    h("div", { class: "card-body flush" }, fieldsTable(doc, schema)));
}

function render(doc) {
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(doc, path, method, op));
    }
  }
  document.getElementById("docs-title").textContent = doc.info.title;
  mount(document.getElementById("docs-nav"),
    h("div", { class: "nav-label" }, "Endpoints"),
    [...byTag.keys()].map((tag) => h("a", { class: "nav-item", href: `#tag-${tag}` }, tag)),
    h("a", { class: "nav-item", href: "#schemas" }, "Schemas"));
  const page = document.getElementById("docs");
  mount(page,
    h("p", { class: "muted" }, doc.info.description),
    [...byTag.entries()].map(([tag, ops]) => h("div", { class: "stack", id: `tag-${tag}` }, h("h2", null, tag), ops)),
    h("div", { class: "stack", id: "schemas" }, h("h2", null, "Schemas"),
      Object.entries(doc.components.schemas).sort().map(([name, schema]) => schemaSection(doc, name, schema))));
  page.removeAttribute("aria-busy");
}

fetch("/api/openapi.json")
  .then((response) => {
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  })
  .then(render)
  .catch((error) => mount(document.getElementById("docs"),
    h("div", { class: "error-box" }, `Could not read /api/openapi.json: ${error.message}`)));
