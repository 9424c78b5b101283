#include "workflows/workflow_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/files.h"
#include "workflows/template.h"

namespace qs::workflows {
namespace {

const std::string kExamples = std::string(QS_SOURCE_DIR) + "/examples";

// Relative folders in the test YAML resolve against examples/ (which has docs/).
WorkflowValidation Validate(const std::string& yaml) {
  WorkflowOptions options;
  options.base_dir = kExamples;
  return ValidateWorkflow(yaml, "wf.yaml", options);
}

std::string DescribeAll(const std::vector<Diagnostic>& diagnostics) {
  std::string s;
  for (const Diagnostic& d : diagnostics) s += "  " + d.ToString() + "\n";
  return s.empty() ? "  (no diagnostics)\n" : s;
}

// One error class: a small file and the diagnostic it must produce.
struct ErrorCase {
  const char* name;
  const char* yaml;
  int line;
  int column;
  const char* message;  // a fragment of the message
  const char* hint;     // a fragment of the hint ("" to not check)
};

class ErrorClasses : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorClasses, ReportedWithPosition) {
  const ErrorCase& c = GetParam();
  WorkflowValidation v = Validate(c.yaml);
  EXPECT_FALSE(v.spec.has_value());
  bool found = false;
  for (const Diagnostic& d : v.diagnostics) {
    if (d.line == c.line && d.column == c.column &&
        d.message.find(c.message) != std::string::npos &&
        d.hint.find(c.hint) != std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << "expected wf.yaml:" << c.line << ":" << c.column << ": error: ..."
                     << c.message << "... (hint: ..." << c.hint << "...)\ngot:\n"
                     << DescribeAll(v.diagnostics);
}

// The smallest valid workflow, which most cases below break in one place:
//   name: t
//   nodes:
//     - id: a
//       type: llm
//       prompt: hi
//       output: x
const ErrorCase kErrorCases[] = {
    // YAML syntax: yaml-cpp reports an unclosed flow list where the input ends.
    {"yaml_syntax", "name: t\nnodes: [a, b\n", 3, 1, "invalid YAML", ""},
    {"tab_indent", "name: t\nnodes:\n\t- id: a\n", 3, 2, "invalid YAML", ""},
    {"empty_file", "", 0, 0, "the file is empty", ""},
    {"top_not_mapping", "- a\n- b\n", 1, 1, "the top level must be a mapping", ""},
    {"two_documents", "name: t\n---\nname: u\n", 3, 1, "more than one YAML document", "---"},
    // Unknown fields, with the closest known name.
    {"unknown_top_field",
     "name: t\ndescripton: x\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n", 2, 1,
     "unknown field 'descripton' in the workflow", "did you mean 'description'?"},
    {"unknown_node_field", "name: t\nnodes:\n  - id: a\n    type: llm\n    promt: hi\n", 5, 5,
     "unknown field 'promt' in llm node 'a'", "did you mean 'prompt'?"},
    {"field_of_other_node_type",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: hi\n    output: x\n    tools: []\n", 7,
     5, "unknown field 'tools' in llm node 'a'", "'tools' is a field of agent nodes"},
    {"unknown_tool_field",
     "name: t\ntools:\n  - name: f\n    description: d\n    http: {url: \"http://127.0.0.1/\"}\n"
     "    paramters: {}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     6, 5, "unknown field 'paramters' in tool 'f'", "did you mean 'parameters'?"},
    {"unknown_http_field",
     "name: t\ntools:\n  - name: f\n    description: d\n    http:\n      url: "
     "\"http://127.0.0.1/\"\n      timeout: 3\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     7, 7, "unknown field 'timeout' in the http settings of tool 'f'",
     "did you mean 'timeout_seconds'?"},
    {"duplicate_key", "name: t\nname: u\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n",
     2, 1, "duplicate key 'name'", "line 1"},
    // Missing required fields: reported at the mapping that lacks them.
    {"missing_name", "nodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n", 1, 1,
     "missing required field 'name' in the workflow", ""},
    {"missing_nodes", "name: t\n", 1, 1, "missing required field 'nodes'", ""},
    {"missing_prompt", "name: t\nnodes:\n  - id: a\n    type: llm\n    output: x\n", 3, 5,
     "missing required field 'prompt' in llm node 'a'", ""},
    {"missing_output", "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: hi\n", 3, 5,
     "missing required field 'output' in llm node 'a'", "state key"},
    {"missing_id", "name: t\nnodes:\n  - type: llm\n    prompt: hi\n    output: x\n", 3, 5,
     "missing required field 'id' in llm node", ""},
    {"missing_type", "name: t\nnodes:\n  - id: a\n    prompt: hi\n", 3, 5,
     "missing required field 'type' in node 'a'", ""},
    {"missing_tool_description",
     "name: t\ntools:\n  - name: f\n    http: {url: \"http://127.0.0.1/\"}\nnodes:\n"
     "  - {id: a, type: tool, tool: f}\n",
     3, 5, "missing required field 'description' in tool 'f'", ""},
    // Wrong value types.
    {"int_as_string",
     "name: t\nnodes:\n  - id: a\n    type: agent\n    prompt: hi\n    max_rounds: \"ten\"\n"
     "    output: x\n",
     6, 17, "'max_rounds' of agent node 'a' must be an integer, got a string", ""},
    {"quoted_number",
     "name: t\nnodes:\n  - id: a\n    type: agent\n    prompt: hi\n    max_rounds: \"3\"\n"
     "    output: x\n",
     6, 17, "must be an integer, got a string", "remove the quotes"},
    {"list_for_string",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: [hi]\n    output: x\n", 5, 13,
     "'prompt' of llm node 'a' must be a string, got a list", ""},
    {"unquoted_template",
     "name: t\ninputs:\n  q: {type: string}\nnodes:\n  - id: a\n    type: llm\n"
     "    prompt: {{inputs.q}}\n    output: x\n",
     7, 13, "must be a string, got a mapping", "quote a value that starts with {{"},
    {"nodes_not_list", "name: t\nnodes: {a: 1}\n", 2, 8, "'nodes' must be a non-empty list", ""},
    {"bool_for_number",
     "name: t\nmodel: {temperature: yes}\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n",
     2, 22, "'temperature' of model must be a number, got a string", ""},
    {"input_default_type",
     "name: t\ninputs:\n  n: {type: integer, default: many}\nnodes:\n"
     "  - {id: a, type: llm, prompt: hi, output: x}\n",
     3, 31, "the default of input 'n' must be of type integer, got a string", ""},
    {"unknown_input_type",
     "name: t\ninputs:\n  n: {type: strng}\nnodes:\n  - {id: a, type: llm, prompt: hi, output: "
     "x}\n",
     3, 13, "unknown type 'strng' of input 'n'", "did you mean 'string'?"},
    {"unknown_reducer",
     "name: t\nstate:\n  x: {reducer: apend}\nnodes:\n  - {id: a, type: llm, prompt: hi, output: "
     "x}\n",
     3, 16, "unknown reducer 'apend'", "did you mean 'append'?"},
    {"append_initial_not_list",
     "name: t\nstate:\n  x: {reducer: append, initial: 3}\nnodes:\n"
     "  - {id: a, type: llm, prompt: hi, output: x}\n",
     3, 33, "initial value of append key 'x' must be a list", ""},
    // Unknown node type.
    {"unknown_node_type", "name: t\nnodes:\n  - id: a\n    type: agnet\n    prompt: hi\n", 4, 11,
     "unknown node type 'agnet'", "did you mean 'agent'?"},
    // Duplicates.
    {"duplicate_node_id",
     "name: t\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n"
     "  - {id: a, type: llm, prompt: ho, output: y}\n",
     4, 10, "duplicate node id 'a'", "first defined at line 3"},
    {"duplicate_tool_name",
     "name: t\ntools:\n  - {name: f, description: d, retrieve: {folder: docs}}\n"
     "  - {name: f, description: e, retrieve: {folder: docs}}\nnodes:\n"
     "  - {id: a, type: tool, tool: f, arguments: {query: x}}\n",
     4, 12, "duplicate tool name 'f'", "first defined at line 3"},
    // Dangling references to nodes.
    {"dangling_edge_to",
     "name: t\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\nedges:\n"
     "  - {from: a, to: bb}\n",
     5, 19, "edge 'to' names unknown node 'bb'", ""},
    {"dangling_edge_from",
     "name: t\nnodes:\n  - {id: first, type: llm, prompt: hi, output: x}\n"
     "  - {id: second, type: llm, prompt: hi, output: y}\nedges:\n  - {from: frist, to: second}\n",
     6, 12, "edge 'from' names unknown node 'frist'", "did you mean 'first'?"},
    {"dangling_route",
     "name: t\nnodes:\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: inputs.q, exists: true}\n        to: nowhere\n"
     "inputs:\n  q: {type: string}\n",
     7, 13, "a route of router node 'r' names unknown node 'nowhere'", ""},
    {"dangling_router_default",
     "name: t\nnodes:\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: inputs.q, exists: true}\n        to: a\n    default: zz\n"
     "  - {id: a, type: llm, prompt: hi, output: x}\ninputs:\n  q: {type: string}\n",
     8, 14, "'default' of router node 'r' names unknown node 'zz'", ""},
    {"dangling_map_node",
     "name: t\ninputs:\n  l: {type: array}\nnodes:\n  - id: m\n    type: map\n    over: inputs.l\n"
     "    node: each\n    output: out\n",
     8, 11, "'node' of map node 'm' names unknown node 'each'", ""},
    {"dangling_start", "name: t\nstart: b\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n",
     2, 8, "'start' names unknown node 'b'", ""},
    // Unknown tools used by nodes.
    {"unknown_tool_in_agent",
     "name: t\ntools:\n  - {name: get_order, description: d, http: {url: \"http://127.0.0.1/\"}}\n"
     "nodes:\n  - id: a\n    type: agent\n    prompt: hi\n    tools: [get_ordr]\n    output: x\n",
     8, 13, "agent node 'a' uses unknown tool 'get_ordr'", "did you mean 'get_order'?"},
    {"unknown_tool_in_tool_node", "name: t\nnodes:\n  - id: a\n    type: tool\n    tool: nope\n", 5,
     11, "tool node 'a' uses unknown tool 'nope'", "declare it under tools:"},
    {"http_tool_in_retrieve_node",
     "name: t\ntools:\n  - {name: f, description: d, http: {url: \"http://127.0.0.1/\"}}\n"
     "nodes:\n  - {id: a, type: retrieve, tool: f, query: q, output: x}\n",
     5, 35, "which is an HTTP tool", ""},
    // Reachability.
    {"unreachable_node",
     "name: t\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n"
     "  - {id: b, type: llm, prompt: hi, output: y}\n",
     4, 10, "node 'b' is not reachable from the start node 'a'", ""},
    // JSON Schemas (structural checks).
    {"schema_unknown_type",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters:\n      type: object\n"
     "      properties:\n        id: {type: strng}\n    http: {url: \"http://127.0.0.1/\"}\n"
     "nodes:\n  - {id: a, type: tool, tool: f}\n",
     8, 20, "invalid JSON Schema in 'parameters' of tool 'f': \"type\" must be one of", ""},
    {"schema_properties_not_object",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters:\n      type: object\n"
     "      properties: [id]\n    http: {url: \"http://127.0.0.1/\"}\nnodes:\n"
     "  - {id: a, type: tool, tool: f}\n",
     7, 19, "\"properties\" must be an object of schemas", ""},
    {"schema_required_not_strings",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters:\n      type: object\n"
     "      required: [1, 2]\n    http: {url: \"http://127.0.0.1/\"}\nnodes:\n"
     "  - {id: a, type: tool, tool: f}\n",
     7, 17, "\"required\" must be an array of property names", ""},
    {"schema_parameters_not_object_type",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: string}\n"
     "    http: {url: \"http://127.0.0.1/\"}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     5, 17, "tool parameters must describe an object", ""},
    {"schema_parameters_not_mapping",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: object\n"
     "    http: {url: \"http://127.0.0.1/\"}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     5, 17, "'parameters' of tool 'f' must be a JSON Schema mapping, got a string", ""},
    {"schema_llm",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: hi\n    schema: {type: strin}\n"
     "    output: x\n",
     6, 20, "invalid JSON Schema in 'schema' of llm node 'a'", ""},
    {"schema_answer",
     "name: t\nnodes:\n  - id: a\n    type: agent\n    prompt: hi\n    answer_schema:\n"
     "      type: object\n      properties:\n        x: 5\n    output: x\n",
     9, 12, "invalid JSON Schema in 'answer_schema' of agent node 'a': a schema must be an object",
     ""},
    {"schema_output",
     "name: t\ntools:\n  - name: f\n    description: d\n    http: {url: \"http://127.0.0.1/\"}\n"
     "    output_schema: {minLength: -1}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     6, 32, "invalid JSON Schema in 'output_schema' of tool 'f'", ""},
    // Template references.
    {"unknown_input_ref",
     "name: t\ninputs:\n  question: {type: string}\nnodes:\n  - id: a\n    type: llm\n"
     "    prompt: \"Q: {{inputs.questoin}}\"\n    output: x\n",
     7, 13, "unknown input 'questoin' in {{inputs.questoin}}", "did you mean 'question'?"},
    {"undeclared_inputs",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: \"{{inputs.nope}}\"\n    output: x\n",
     5, 13, "unknown input 'nope'", "declare it under inputs:"},
    {"unknown_state_ref",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: |\n      Use {{state.nope}}\n"
     "    output: x\n",
     5, 13, "unknown state key 'nope' in {{state.nope}}", "declare it under state:"},
    {"state_ref_typo",
     "name: t\nstate:\n  notes: {reducer: append}\nnodes:\n  - id: a\n    type: llm\n"
     "    prompt: \"{{state.note}}\"\n    output: x\n",
     7, 13, "unknown state key 'note'", "did you mean 'notes'?"},
    {"unknown_ref_root",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: \"{{input.q}}\"\n    output: x\n", 5,
     13, "unknown reference {{input.q}}", ""},
    {"unclosed_template",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: \"{{state.x\"\n    output: x\n", 5, 13,
     "unclosed {{", ""},
    {"item_outside_map",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: \"{{item}}\"\n    output: x\n", 5, 13,
     "{{item}} is only set in a node that a map runs per item", ""},
    {"unknown_output_ref",
     "name: t\noutputs:\n  answer: {from: state.answr}\nnodes:\n"
     "  - {id: a, type: llm, prompt: hi, output: answer}\n",
     3, 18, "unknown state key 'answr'", "did you mean 'answer'?"},
    {"route_path_unknown",
     "name: t\nnodes:\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: state.kind, equals: x}\n        to: r\n",
     6, 22, "unknown state key 'kind'", ""},
    {"output_with_state_prefix",
     "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: hi\n    output: state.x\n", 6, 13,
     "names a state key, not a path", "write output: x"},
    // HTTP tools.
    {"url_placeholder_not_param",
     "name: t\ntools:\n  - name: get_order\n    description: d\n    parameters:\n"
     "      type: object\n      properties: {order_id: {type: string}}\n    http:\n"
     "      url: \"http://127.0.0.1:8765/orders/{orderid}\"\nnodes:\n"
     "  - {id: a, type: tool, tool: get_order}\n",
     9, 12, "URL placeholder {orderid} of tool 'get_order' is not one of its parameters",
     "did you mean 'order_id'?"},
    {"query_not_param",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {customer: {type: string}}}\n    http:\n      url: \"http://127.0.0.1/o\"\n"
     "      query: [custmer]\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     8, 15, "query parameter 'custmer' of tool 'f' is not one of its parameters", ""},
    {"host_not_allowed",
     "name: t\nallow_hosts: [api.example.com]\ntools:\n  - name: f\n    description: d\n"
     "    http: {url: \"https://evil.example.net/x\"}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     6, 17, "host 'evil.example.net' of tool 'f' is not on allow_hosts", "add it to allow_hosts"},
    {"host_not_allowed_by_default",
     "name: t\ntools:\n  - name: f\n    description: d\n    http:\n"
     "      url: \"http://api.example.com/x\"\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     6, 12, "host 'api.example.com' of tool 'f' is not on allow_hosts", "loopback"},
    {"bad_method",
     "name: t\ntools:\n  - name: f\n    description: d\n    http: {method: GTE, url: "
     "\"http://127.0.0.1/\"}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     5, 20, "unknown HTTP method 'GTE'", "did you mean 'GET'?"},
    {"bad_header_env",
     "name: t\ntools:\n  - name: f\n    description: d\n    http:\n"
     "      url: \"http://127.0.0.1/\"\n      headers: {Authorization: \"Bearer ${TOKEN\"}\n"
     "nodes:\n  - {id: a, type: tool, tool: f}\n",
     7, 32, "header 'Authorization' of tool 'f': unclosed ${", ""},
    {"tool_argument_not_param",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {order_id: {type: string}}, required: [order_id]}\n"
     "    http: {url: \"http://127.0.0.1/{order_id}\"}\nnodes:\n  - id: a\n    type: tool\n"
     "    tool: f\n    arguments:\n      orderid: A1\n",
     12, 7, "argument 'orderid' is not a parameter of tool 'f'", "did you mean 'order_id'?"},
    {"tool_argument_missing",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {order_id: {type: string}}, required: [order_id]}\n"
     "    http: {url: \"http://127.0.0.1/{order_id}\"}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     8, 5, "does not pass required argument 'order_id' of tool 'f'", ""},
    // bind: arguments an agent node sets for the model.
    {"bind_tool_not_in_tools",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {who: {type: string}}, required: [who]}\n"
     "    http: {url: \"http://127.0.0.1/\"}\nnodes:\n  - id: a\n    type: agent\n"
     "    prompt: hi\n    tools: []\n    bind:\n      f: {who: x}\n    output: o\n",
     13, 7, "'bind' of agent node 'a' names tool 'f', which is not in its tools",
     "add 'f' to the node's tools"},
    {"bind_parameter_unknown",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {who: {type: string}}, required: [who]}\n"
     "    http: {url: \"http://127.0.0.1/\"}\nnodes:\n  - id: a\n    type: agent\n"
     "    prompt: hi\n    tools: [f]\n    bind:\n      f: {whom: x}\n    output: o\n",
     13, 11, "bound argument 'whom' is not a parameter of tool 'f'", "did you mean 'who'?"},
    {"bind_not_a_mapping",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {who: {type: string}}, required: [who]}\n"
     "    http: {url: \"http://127.0.0.1/\"}\nnodes:\n  - id: a\n    type: agent\n"
     "    prompt: hi\n    tools: [f]\n    bind:\n      f: x\n    output: o\n",
     13, 10, "tool 'f' needs a mapping of parameters to values", "bind: {f: {PARAMETER:"},
    {"bind_unknown_reference",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {who: {type: string}}, required: [who]}\n"
     "    http: {url: \"http://127.0.0.1/\"}\nnodes:\n  - id: a\n    type: agent\n"
     "    prompt: hi\n    tools: [f]\n    bind:\n      f: {who: \"{{inputs.user}}\"}\n"
     "    output: o\n",
     13, 16, "inputs.user", ""},
    {"bind_empty_value",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {who: {type: string}}, required: [who]}\n"
     "    http: {url: \"http://127.0.0.1/\"}\nnodes:\n  - id: a\n    type: agent\n"
     "    prompt: hi\n    tools: [f]\n    bind:\n      f: {who: \"\"}\n    output: o\n",
     13, 16, "bound argument 'who' of tool 'f' is empty", "never offered"},
    {"bind_declared_tool_not_listed",
     "name: t\ntools:\n  - name: f\n    description: d\n    parameters: {type: object, "
     "properties: {who: {type: string}}, required: [who]}\n"
     "    http: {url: \"http://127.0.0.1/\"}\n  - {name: g, description: d, http: {url: "
     "\"http://127.0.0.1/\"}}\nnodes:\n  - id: a\n    type: agent\n"
     "    prompt: hi\n    tools: [g]\n    bind:\n      f: {who: x}\n    output: o\n",
     14, 7, "names tool 'f', which is not in its tools", "add 'f' to the node's tools"},
    // Tools need exactly one of http / retrieve.
    {"tool_both_kinds",
     "name: t\ntools:\n  - name: f\n    description: d\n    http: {url: \"http://127.0.0.1/\"}\n"
     "    retrieve: {folder: docs}\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     6, 5, "tool 'f' has both 'http' and 'retrieve'", ""},
    {"tool_neither_kind",
     "name: t\ntools:\n  - name: f\n    description: d\nnodes:\n  - {id: a, type: tool, tool: f}\n",
     3, 5, "tool 'f' needs one of 'http' or 'retrieve'", ""},
    // max_steps.
    {"max_steps_zero",
     "name: t\nmax_steps: 0\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n", 2, 12,
     "'max_steps' of the workflow must be at least 1, got 0", ""},
    // Retrieve folders, relative to the YAML file's folder.
    {"retrieve_tool_folder_missing",
     "name: t\ntools:\n  - name: s\n    retrieve: {folder: no_such_docs}\nnodes:\n"
     "  - {id: a, type: retrieve, tool: s, query: q, output: x}\n",
     4, 24, "retrieve folder 'no_such_docs' does not exist", "relative to the YAML file's folder"},
    {"retrieve_chunks_unknown",
     "name: t\ntools:\n  - name: s\n    retrieve: {folder: docs, chunks: words}\nnodes:\n"
     "  - {id: a, type: retrieve, tool: s, query: q, output: x}\n",
     4, 38, "'chunks' of tool 's' must be paragraphs or sentences, got 'words'", "sentences makes"},
    {"retrieve_questions_missing",
     "name: t\ntools:\n  - name: s\n    retrieve: {folder: docs, questions: nope.json}\nnodes:\n"
     "  - {id: a, type: retrieve, tool: s, query: q, output: x}\n",
     4, 41, "nope.json", "relative to the YAML file's folder"},
    {"retrieve_min_score_negative",
     "name: t\ntools:\n  - name: s\n    retrieve: {folder: docs, min_score: -1}\nnodes:\n"
     "  - {id: a, type: retrieve, tool: s, query: q, output: x}\n",
     4, 41, "'min_score' of tool 's' must be at least 0", ""},
    {"retrieve_node_folder_missing",
     "name: t\nnodes:\n  - id: a\n    type: retrieve\n    folder: nodocs\n    query: q\n"
     "    output: x\n",
     5, 13, "retrieve folder 'nodocs' does not exist", ""},
    // Graph shape.
    {"router_with_edge",
     "name: t\ninputs:\n  q: {type: string}\nnodes:\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: inputs.q, exists: true}\n        to: a\n"
     "  - {id: a, type: llm, prompt: hi, output: x}\nedges:\n  - {from: r, to: a}\n",
     12, 12, "router 'r' has an outgoing edge", "routes"},
    {"two_outgoing_edges",
     "name: t\nnodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n"
     "  - {id: b, type: llm, prompt: hi, output: y}\n"
     "  - {id: c, type: llm, prompt: hi, output: z}\nedges:\n  - {from: a, to: b}\n"
     "  - {from: a, to: c}\n",
     8, 12, "node 'a' has more than one outgoing edge", "use a router"},
    {"condition_two_tests",
     "name: t\ninputs:\n  q: {type: string}\nnodes:\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: inputs.q, equals: a, exists: true}\n        to: r\n",
     8, 43, "has more than one test ('equals' and 'exists')", ""},
    {"condition_no_test",
     "name: t\ninputs:\n  q: {type: string}\nnodes:\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: inputs.q}\n        to: r\n",
     8, 15, "has no test", "equals"},
    {"condition_in_not_list",
     "name: t\ninputs:\n  q: {type: string}\nnodes:\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: inputs.q, in: a}\n        to: r\n",
     8, 36, "'in' of the condition of a route of router node 'r' must be a list", ""},
    {"map_body_is_router",
     "name: t\ninputs:\n  l: {type: array}\nnodes:\n  - id: m\n    type: map\n    over: inputs.l\n"
     "    node: r\n    output: out\n  - id: r\n    type: router\n    routes:\n"
     "      - when: {path: inputs.l, exists: true}\n        to: m\n",
     8, 11, "map node 'm' runs router node 'r' per item", ""},
    {"model_block_length",
     "name: t\nmodel: {gen_length: 100, block_length: 32}\nnodes:\n"
     "  - {id: a, type: llm, prompt: hi, output: x}\n",
     2, 40, "block_length 32 does not divide gen_length 100", ""},
};

INSTANTIATE_TEST_SUITE_P(WorkflowSpec, ErrorClasses, ::testing::ValuesIn(kErrorCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(WorkflowSpec, CollectsEveryProblemInFileOrder) {
  const char* yaml =
      "name: t\n"                                        // 1
      "max_steps: -1\n"                                  // 2
      "nodes:\n"                                         // 3
      "  - id: a\n"                                      // 4
      "    type: agent\n"                                // 5
      "    promt: hi\n"                                  // 6
      "    tools: [nope]\n"                              // 7
      "    output: x\n"                                  // 8
      "  - {id: b, type: llm, prompt: hi, output: y}\n"  // 9
      "edges:\n"                                         // 10
      "  - {from: a, to: c}\n";                          // 11
  WorkflowValidation v = Validate(yaml);
  ASSERT_FALSE(v.spec.has_value());
  std::vector<std::string> got;
  for (const Diagnostic& d : v.diagnostics) got.push_back(d.ToString());
  const std::vector<std::string> want = {
      "wf.yaml:2:12: error: 'max_steps' of the workflow must be at least 1, got -1",
      "wf.yaml:4:5: error: missing required field 'prompt' in agent node 'a'",
      "wf.yaml:6:5: error: unknown field 'promt' in agent node 'a' (hint: did you mean "
      "'prompt'?)",
      "wf.yaml:7:13: error: agent node 'a' uses unknown tool 'nope' (hint: declare it under "
      "tools:)",
      "wf.yaml:9:10: error: node 'b' is not reachable from the start node 'a' (hint: add an "
      "edge, route or map that leads to it, or remove it)",
      "wf.yaml:11:19: error: edge 'to' names unknown node 'c' (hint: nodes: a, b)",
  };
  EXPECT_EQ(got, want) << DescribeAll(v.diagnostics);
}

// A misspelt tool under tools: and bind is reported once, at the tools entry.
TEST(WorkflowSpec, BindOfAnUnknownListedToolIsNotReportedTwice) {
  WorkflowValidation v = Validate(
      "name: t\ntools:\n  - {name: list_orders, description: d, http: {url: "
      "\"http://127.0.0.1/\"}}\nnodes:\n  - id: a\n    type: agent\n    prompt: hi\n"
      "    tools: [list_order]\n    bind:\n      list_order: {customer: x}\n    output: o\n");
  ASSERT_EQ(v.diagnostics.size(), 1u) << DescribeAll(v.diagnostics);
  EXPECT_EQ(v.diagnostics[0].line, 8);
  EXPECT_NE(v.diagnostics[0].message.find("uses unknown tool 'list_order'"), std::string::npos);
}

TEST(WorkflowSpec, DiagnosticFormats) {
  Diagnostic d{"f.yaml", 3, 7, "bad thing", "fix it"};
  EXPECT_EQ(d.ToString(), "f.yaml:3:7: error: bad thing (hint: fix it)");
  d.hint = "";
  EXPECT_EQ(d.ToString(), "f.yaml:3:7: error: bad thing");
  d.line = 0;
  EXPECT_EQ(d.ToString(), "f.yaml: error: bad thing");
  EXPECT_EQ(
      d.ToJson(),
      (nlohmann::json{
          {"file", "f.yaml"}, {"line", 0}, {"column", 7}, {"message", "bad thing"}, {"hint", ""}}));
}

TEST(WorkflowSpec, UnreadableFileIsOneDiagnostic) {
  WorkflowValidation v = ValidateWorkflowFile("/nonexistent/wf.yaml");
  ASSERT_EQ(v.diagnostics.size(), 1u);
  EXPECT_EQ(v.diagnostics[0].line, 0);
  EXPECT_NE(v.diagnostics[0].ToString().find("/nonexistent/wf.yaml: error: cannot open"),
            std::string::npos);
  StatusOr<WorkflowSpec> s = LoadWorkflowFile("/nonexistent/wf.yaml");
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
}

TEST(WorkflowSpec, FromContextKeywordIsCheckedWithItsPosition) {
  const char* yaml =
      "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: hi\n"
      "    schema:\n      type: object\n      properties:\n"
      "        id: {type: string, x-from-context: word}\n    output: x\n";
  WorkflowValidation v = ValidateWorkflow(yaml, "wf.yaml");
  ASSERT_EQ(v.diagnostics.size(), 1u) << DescribeAll(v.diagnostics);
  EXPECT_EQ(v.diagnostics[0].ToString(),
            "wf.yaml:9:44: error: invalid JSON Schema in 'schema' of llm node 'a': "
            "\"x-from-context\" must be \"words\" or \"sentences\", got \"word\"");
}

TEST(WorkflowSpec, SchemaCheckerHook) {
  const char* yaml =
      "name: t\nnodes:\n  - id: a\n    type: llm\n    prompt: hi\n"
      "    schema: {type: string, pattern: \"[\"}\n    output: x\n";
  WorkflowOptions options;
  int calls = 0;
  options.check_schema = [&](const nlohmann::json& schema) -> std::string {
    ++calls;
    return schema.contains("pattern") ? "pattern does not compile" : "";
  };
  WorkflowValidation v = ValidateWorkflow(yaml, "wf.yaml", options);
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(v.diagnostics.size(), 1u) << DescribeAll(v.diagnostics);
  EXPECT_EQ(v.diagnostics[0].ToString(),
            "wf.yaml:6:13: error: invalid JSON Schema in 'schema' of llm node 'a': pattern "
            "does not compile");
}

TEST(WorkflowSpec, CheckSchemaStructureReportsPointers) {
  nlohmann::json schema = nlohmann::json::parse(R"({
    "type": "object",
    "properties": {"a": {"type": ["string", "nul"]}, "b": true, "c": {"items": 3},
                   "d": {"type": "string", "x-from-context": "word"},
                   "e": {"type": "string", "x-from-context": "sentences"},
                   "f": {"type": "integer", "x-from-context": "words"},
                   "x-from-context": {"type": "string"}},
    "required": "a",
    "anyOf": [],
    "maxLength": 1.5
  })");
  std::vector<SchemaProblem> problems = CheckSchemaStructure(schema);
  std::vector<std::string> pointers;
  for (const SchemaProblem& p : problems) pointers.push_back(p.pointer);
  EXPECT_EQ(pointers,
            (std::vector<std::string>{"/anyOf", "/maxLength", "/properties/a/type",
                                      "/properties/c/items", "/properties/d/x-from-context",
                                      "/properties/f/x-from-context", "/required"}));
  EXPECT_EQ(problems[4].message,
            "\"x-from-context\" must be \"words\" or \"sentences\", got \"word\"");
  EXPECT_EQ(problems[5].message,
            "\"x-from-context\" gives strings, but \"type\" is \"integer\" (add \"type\": "
            "\"string\")");
  EXPECT_EQ(CheckSchemaStructure(true).size(), 1u);  // the top must be an object
  EXPECT_TRUE(CheckSchemaStructure(nlohmann::json::object()).empty());
}

TEST(Template, PartsAndWholeReferences) {
  StatusOr<Template> t = ParseTemplate("Hi {{ inputs.name }}, see {{state.docs.0}}!");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->parts.size(), 5u);
  EXPECT_EQ(t->parts[0].literal, "Hi ");
  EXPECT_EQ(t->parts[1].ref.root, "inputs");
  EXPECT_EQ(t->parts[1].ref.path, std::vector<std::string>{"name"});
  EXPECT_EQ(t->parts[3].ref.path, (std::vector<std::string>{"docs", "0"}));
  EXPECT_FALSE(t->IsWholeReference());
  EXPECT_TRUE(ParseTemplate("{{item.sku}}")->IsWholeReference());
  EXPECT_TRUE(ParseTemplate("{{ index }}")->IsWholeReference());
  EXPECT_FALSE(ParseTemplate(" {{index}}")->IsWholeReference());
  EXPECT_TRUE(ParseTemplate("")->parts.empty());
  for (const char* bad : {"{{", "{{}}", "{{inputs}}", "{{index.x}}", "{{a b}}", "{{state..x}}",
                          "{{ {{inputs.x}} }}"}) {
    EXPECT_FALSE(ParseTemplate(bad).ok()) << bad;
  }
  EXPECT_TRUE(ParseValuePath("state.a.b").ok());
  EXPECT_FALSE(ParseValuePath("item").ok());
  EXPECT_FALSE(ParseValuePath("{{state.a}}").ok());
}

// A file that uses every part of the format, and the spec it must become.
TEST(WorkflowSpec, ParsesEveryNodeTypeIntoTheSpec) {
  const char* yaml = R"(name: full
description: Every node type.
inputs:
  question: {type: string, description: Q}
  limit: {type: integer, default: 3}
  items: {type: array, default: [a, b]}
outputs:
  answer: {from: state.answer, description: A}
model:
  path: ckpt/llada
  gen_length: 64
  steps: 16
  block_length: 16
  threshold: 0.9
  temperature: 0.5
  seed: 42
  max_tokens: 2048
allow_hosts: [api.example.com]
tools:
  - name: get_order
    description: Get an order.
    parameters:
      type: object
      properties: {order_id: {type: string}, verbose: {type: boolean}}
      required: [order_id]
    http:
      method: post
      url: "https://api.example.com/orders/{order_id}"
      query: [verbose]
      headers: {Authorization: "Bearer ${ORDERS_TOKEN}"}
      timeout_seconds: 2.5
      retries: 4
      backoff_seconds: 0.5
      safe_to_retry: true
      max_response_bytes: 1000
      response: text
    output_schema: {type: object}
  - name: docs
    description: Search the docs.
    retrieve: {folder: docs, k: 5, index: cache/docs.sqlite, chunks: sentences, questions: docs_questions.json, min_score: 2.5}
state:
  notes: {reducer: append}
  facts: {reducer: merge, initial: {a: 1}}
  answer: {reducer: overwrite, initial: ""}
nodes:
  - id: plan
    type: llm
    system: Be brief.
    prompt: "{{inputs.question}}"
    schema: {type: array, items: {type: string}}
    output: plan
  - id: each
    type: map
    over: state.plan
    node: step
    max_parallel: 3
    output: results
  - id: step
    type: tool
    tool: get_order
    arguments: {order_id: "{{item}}", verbose: true}
  - id: lookup
    type: retrieve
    tool: docs
    query: "{{inputs.question}} {{state.results}}"
    output: passages
  - id: ask
    type: human
    prompt: "Anything to add about {{state.plan}}?"
    output: notes
  - id: decide
    type: router
    routes:
      - when: {path: state.notes, exists: true}
        to: answer
      - when: {path: inputs.limit, greater_than: 2}
        to: ask
      - when: {path: state.facts.a, in: [1, 2]}
        to: answer
    default: answer
  - id: answer
    type: agent
    prompt: "{{inputs.question}} {{state.passages}} {{state.facts}}"
    tools: [get_order, docs]
    bind: {get_order: {verbose: true, order_id: "{{state.plan}}"}}
    max_rounds: 4
    answer_schema: {type: string}
    output: answer
edges:
  - {from: plan, to: each}
  - {from: each, to: lookup}
  - {from: lookup, to: ask}
  - {from: ask, to: decide}
start: plan
max_steps: 20
)";
  WorkflowValidation v = ValidateWorkflow(yaml, kExamples + "/full.yaml");
  ASSERT_TRUE(v.spec.has_value()) << DescribeAll(v.diagnostics);
  const WorkflowSpec& s = *v.spec;
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.description, "Every node type.");
  EXPECT_EQ(s.base_dir, kExamples);

  ASSERT_EQ(s.inputs.size(), 3u);
  EXPECT_EQ(s.inputs[0].name, "question");
  EXPECT_EQ(s.inputs[0].type, ValueType::kString);
  EXPECT_TRUE(s.inputs[0].required);
  EXPECT_FALSE(s.inputs[0].default_value.has_value());
  EXPECT_EQ(s.inputs[1].type, ValueType::kInteger);
  EXPECT_FALSE(s.inputs[1].required);
  EXPECT_EQ(*s.inputs[1].default_value, 3);
  EXPECT_EQ(*s.inputs[2].default_value, (nlohmann::json{"a", "b"}));
  ASSERT_EQ(s.outputs.size(), 1u);
  EXPECT_EQ(s.outputs[0].from, "state.answer");

  EXPECT_EQ(s.model.path, "ckpt/llada");
  EXPECT_EQ(s.model.resolved_path, kExamples + "/ckpt/llada");
  EXPECT_EQ(s.model.gen_length, 64);
  EXPECT_EQ(s.model.steps, 16);
  EXPECT_EQ(s.model.block_length, 16);
  EXPECT_EQ(s.model.threshold, 0.9);
  EXPECT_EQ(s.model.temperature, 0.5);
  EXPECT_EQ(s.model.seed, 42);
  EXPECT_EQ(s.model.max_tokens, 2048);
  EXPECT_TRUE(s.allow_hosts.Allows("api.example.com"));
  EXPECT_TRUE(s.allow_hosts.Allows("127.0.0.1"));
  EXPECT_FALSE(s.allow_hosts.Allows("example.com"));

  ASSERT_EQ(s.tools.size(), 2u);
  const WorkflowTool& http = s.tools[0];
  EXPECT_EQ(http.kind, ToolKind::kHttp);
  EXPECT_EQ(http.spec().name, "get_order");
  EXPECT_EQ(http.spec().description, "Get an order.");
  EXPECT_EQ(http.spec().parameters["required"], nlohmann::json{"order_id"});
  EXPECT_EQ(http.http.method, "POST");
  EXPECT_EQ(http.http.url, "https://api.example.com/orders/{order_id}");
  EXPECT_EQ(http.http.query, std::vector<std::string>{"verbose"});
  EXPECT_EQ(http.http.headers.at("Authorization"), "Bearer ${ORDERS_TOKEN}");
  EXPECT_EQ(http.http.timeout_seconds, 2.5);
  EXPECT_EQ(http.http.max_retries, 4);
  EXPECT_EQ(http.http.backoff_initial_seconds, 0.5);
  EXPECT_TRUE(http.http.safe_to_retry);
  EXPECT_EQ(http.http.max_response_bytes, 1000);
  EXPECT_FALSE(http.http.json_response);
  EXPECT_EQ(http.output_schema, (nlohmann::json{{"type", "object"}}));
  EXPECT_EQ(http.pos.line, 20);
  EXPECT_TRUE(tools::ValidateHttpToolConfig(http.http).ok());
  const WorkflowTool& docs = s.tools[1];
  EXPECT_EQ(docs.kind, ToolKind::kRetrieve);
  EXPECT_EQ(docs.spec().name, "docs");
  EXPECT_EQ(docs.spec().description, "Search the docs.");
  EXPECT_TRUE(docs.spec().parameters["properties"].contains("query"));
  EXPECT_EQ(docs.retrieve.folder, "docs");
  EXPECT_EQ(docs.retrieve.folder_path, kExamples + "/docs");
  EXPECT_EQ(docs.retrieve.k, 5);
  EXPECT_EQ(docs.retrieve.index_path, kExamples + "/cache/docs.sqlite");
  EXPECT_TRUE(docs.retrieve.sentence_chunks);
  EXPECT_EQ(docs.retrieve.questions_path, kExamples + "/docs_questions.json");
  EXPECT_EQ(docs.retrieve.min_score, 2.5);
  EXPECT_TRUE(docs.output_schema.is_null());

  // Declared keys in order, then keys only node outputs write (sorted).
  std::vector<std::string> keys;
  for (const StateKeySpec& k : s.state) keys.push_back(k.key);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"notes", "facts", "answer", "passages", "plan", "results"}));
  EXPECT_EQ(s.FindStateKey("notes")->reducer, Reducer::kAppend);
  EXPECT_EQ(s.FindStateKey("notes")->initial, nlohmann::json::array());
  EXPECT_EQ(s.FindStateKey("facts")->initial, (nlohmann::json{{"a", 1}}));
  EXPECT_EQ(s.FindStateKey("answer")->initial, "");
  EXPECT_FALSE(s.FindStateKey("plan")->declared);
  EXPECT_TRUE(s.FindStateKey("plan")->initial.is_null());

  ASSERT_EQ(s.nodes.size(), 7u);
  const auto& plan = std::get<LlmNode>(s.FindNode("plan")->config);
  EXPECT_EQ(plan.system, "Be brief.");
  EXPECT_EQ(plan.prompt, "{{inputs.question}}");
  EXPECT_EQ(plan.schema["items"]["type"], "string");
  const auto& each = std::get<MapNode>(s.FindNode("each")->config);
  EXPECT_EQ(each.over, "state.plan");
  EXPECT_EQ(each.node, "step");
  EXPECT_EQ(each.max_parallel, 3);
  EXPECT_EQ(s.FindNode("each")->output, "results");
  const NodeSpec* step = s.FindNode("step");
  EXPECT_EQ(step->type, NodeType::kTool);
  EXPECT_EQ(step->output, "");
  const auto& call = std::get<ToolNode>(step->config);
  EXPECT_EQ(call.tool, "get_order");
  EXPECT_EQ(call.arguments, (nlohmann::json{{"order_id", "{{item}}"}, {"verbose", true}}));
  const auto& lookup = std::get<RetrieveNode>(s.FindNode("lookup")->config);
  EXPECT_EQ(lookup.tool, "docs");
  EXPECT_EQ(lookup.k, 5);  // the tool's k
  EXPECT_EQ(std::get<HumanNode>(s.FindNode("ask")->config).prompt,
            "Anything to add about {{state.plan}}?");
  const auto& decide = std::get<RouterNode>(s.FindNode("decide")->config);
  ASSERT_EQ(decide.routes.size(), 3u);
  EXPECT_EQ(decide.routes[0].when.path, "state.notes");
  EXPECT_EQ(decide.routes[0].when.op, Condition::Op::kExists);
  EXPECT_EQ(decide.routes[0].when.value, true);
  EXPECT_EQ(decide.routes[1].when.op, Condition::Op::kGreaterThan);
  EXPECT_EQ(decide.routes[1].when.value, 2);
  EXPECT_EQ(decide.routes[1].to, "ask");
  EXPECT_EQ(decide.routes[2].when.op, Condition::Op::kIn);
  EXPECT_EQ(decide.routes[2].when.value, (nlohmann::json{1, 2}));
  EXPECT_EQ(decide.default_to, "answer");
  const NodeSpec* answer = s.FindNode("answer");
  EXPECT_EQ(answer->pos.line, 81);
  EXPECT_EQ(answer->pos.column, 5);
  const auto& agent = std::get<AgentNode>(answer->config);
  EXPECT_EQ(agent.tools, (std::vector<std::string>{"get_order", "docs"}));
  EXPECT_EQ(agent.max_rounds, 4);
  EXPECT_EQ(agent.bind,
            (nlohmann::json{{"get_order", {{"verbose", true}, {"order_id", "{{state.plan}}"}}}}));
  EXPECT_EQ(agent.answer_schema, (nlohmann::json{{"type", "string"}}));
  EXPECT_TRUE(agent.system.empty());

  ASSERT_EQ(s.edges.size(), 4u);
  EXPECT_EQ(s.NextNode("plan"), "each");
  EXPECT_EQ(s.NextNode("answer"), "");
  EXPECT_EQ(s.start, "plan");
  EXPECT_EQ(s.max_steps, 20);
}

TEST(WorkflowSpec, DefaultsAndYamlScalars) {
  const char* yaml =
      "name: t\ninputs:\n  flag: {type: boolean, default: false}\n"
      "  word: {type: string, default: 'yes'}\n  ratio: {type: number, default: 1e-3}\n"
      "nodes:\n  - {id: a, type: llm, prompt: hi, output: x}\n"
      "  - {id: b, type: tool, tool: t, arguments: {n: 0x10, s: on, q: \"12\", z: ~}}\n"
      "tools:\n  - name: t\n    description: d\n    http: {url: \"http://localhost:8765/t\"}\n"
      "    parameters: {properties: {n: {}, s: {}, q: {}, z: {}}}\n"
      "  - {name: u, description: d, http: {url: \"http://[::1]:8765/u\"}}\n"
      "edges:\n  - {from: a, to: b}\n";
  WorkflowValidation v = Validate(yaml);
  ASSERT_TRUE(v.spec.has_value()) << DescribeAll(v.diagnostics);
  const WorkflowSpec& s = *v.spec;
  EXPECT_EQ(s.start, "a");
  EXPECT_EQ(s.max_steps, 50);
  EXPECT_EQ(s.model.path, "builtin");
  EXPECT_EQ(s.model.resolved_path, "builtin");
  EXPECT_FALSE(s.model.threshold.has_value());
  EXPECT_TRUE(s.allow_hosts.hosts.empty());
  EXPECT_EQ(*s.FindInput("flag")->default_value, false);
  EXPECT_EQ(*s.FindInput("word")->default_value, "yes");
  EXPECT_DOUBLE_EQ(s.FindInput("ratio")->default_value->get<double>(), 1e-3);
  const WorkflowTool& t = s.tools[0];
  EXPECT_EQ(t.http.method, "GET");
  EXPECT_EQ(s.tools[1].spec().parameters,
            (nlohmann::json{{"type", "object"}, {"properties", nlohmann::json::object()}}));
  // YAML 1.2 core scalars: 0x10 is 16, `on` stays a string, quoted digits stay a string.
  EXPECT_EQ(std::get<ToolNode>(s.FindNode("b")->config).arguments,
            (nlohmann::json{{"n", 16}, {"s", "on"}, {"q", "12"}, {"z", nullptr}}));
  EXPECT_EQ(s.FindStateKey("x")->reducer, Reducer::kOverwrite);
}

// A node that a map runs needs no output of its own, and may use {{item}} / {{index}}.
TEST(WorkflowSpec, MapBodiesUseItemAndIndex) {
  const char* yaml =
      "name: t\ninputs:\n  list: {type: array}\nnodes:\n"
      "  - {id: m, type: map, over: inputs.list, node: each, output: out}\n"
      "  - {id: each, type: llm, prompt: \"{{index}}: {{item.name}}\"}\n";
  WorkflowValidation v = Validate(yaml);
  ASSERT_TRUE(v.spec.has_value()) << DescribeAll(v.diagnostics);
  EXPECT_EQ(v.spec->FindNode("each")->output, "");
}

TEST(WorkflowSpec, ParseWorkflowStatusListsEveryDiagnostic) {
  StatusOr<WorkflowSpec> s = ParseWorkflow("name: 1\nnodes: []\n", "x.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "x.yaml:1:7: error: 'name' of the workflow must be a string, got an integer (hint: "
            "quote it to make it a string)\n"
            "x.yaml:2:8: error: 'nodes' must be a non-empty list of nodes, got a list (hint: "
            "each node is a mapping with id, type and its fields)");
}

TEST(WorkflowSpec, ExamplesValidate) {
  for (const char* name : {"order_support.yaml", "docs_qa.yaml", "triage.yaml"}) {
    SCOPED_TRACE(name);
    WorkflowValidation v = ValidateWorkflowFile(kExamples + "/" + name);
    EXPECT_TRUE(v.spec.has_value()) << DescribeAll(v.diagnostics);
  }
  StatusOr<WorkflowSpec> orders = LoadWorkflowFile(kExamples + "/order_support.yaml");
  ASSERT_TRUE(orders.ok()) << orders.status().message();
  EXPECT_EQ(orders->tools.size(), 3u);
  for (const WorkflowTool& t : orders->tools) {
    EXPECT_TRUE(tools::ValidateHttpToolConfig(t.http).ok()) << t.name;
  }
  StatusOr<WorkflowSpec> triage = LoadWorkflowFile(kExamples + "/triage.yaml");
  ASSERT_TRUE(triage.ok()) << triage.status().message();
  std::set<NodeType> types;
  for (const NodeSpec& n : triage->nodes) types.insert(n.type);
  EXPECT_TRUE(types.count(NodeType::kLlm) && types.count(NodeType::kRouter) &&
              types.count(NodeType::kMap));
}

// Every complete example in docs/WORKFLOWS.md (a ```yaml block with a top-level nodes:)
// validates; folders in them resolve against examples/.
TEST(WorkflowSpec, DocsExamplesValidate) {
  StatusOr<std::string> doc = ReadFile(std::string(QS_SOURCE_DIR) + "/docs/WORKFLOWS.md");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  int complete = 0;
  size_t pos = 0;
  while ((pos = doc->find("```yaml\n", pos)) != std::string::npos) {
    const size_t begin = pos + 8;
    const size_t end = doc->find("```", begin);
    ASSERT_NE(end, std::string::npos);
    const std::string block = doc->substr(begin, end - begin);
    pos = end + 3;
    if (block.find("\nnodes:") == std::string::npos && block.rfind("nodes:", 0) != 0) continue;
    ++complete;
    WorkflowValidation v = Validate(block);
    EXPECT_TRUE(v.spec.has_value()) << block << DescribeAll(v.diagnostics);
  }
  EXPECT_GE(complete, 8);  // the first example and one per node type
}

}  // namespace
}  // namespace qs::workflows
