// Package vertex is the Gemini dialect: the generateContent wire format that
// Vertex AI and AI Studio (the Gemini Developer API) share. It holds the wire
// structs, the pure codecs used when Gemini is the upstream (EncodeRequest,
// NewStreamDecoder, DecodeResponse, DecodeError) and the upstream Client with
// Google auth. The wire structs are shaped to serve the Gemini-native ingress
// too (model turns with thoughtSignature, functionResponse objects, raw
// passthrough of fields xjp does not model).
//
// # Endpoints and auth
//
// The Client always calls streamGenerateContent?alt=sse and the gateway folds
// the stream for non-streaming clients:
//
//   - Vertex, regional: https://{region}-aiplatform.googleapis.com/v1/projects/{p}/locations/{region}/publishers/google/models/{m}
//   - Vertex, global:   https://aiplatform.googleapis.com/v1/projects/{p}/locations/global/publishers/google/models/{m}
//   - Vertex, express:  https://aiplatform.googleapis.com/v1/publishers/google/models/{m} (API key, no project)
//   - AI Studio:        https://generativelanguage.googleapis.com/v1beta/models/{m}
//
// An API key goes in x-goog-api-key. Otherwise an OAuth2 bearer token comes
// from a service-account JSON file or Application Default Credentials (scope
// cloud-platform), cached and refreshed a few minutes before expiry.
//
// # Tool-call ids and thought signatures
//
// Gemini gives function calls no id (or an optional one), while OpenAI and
// Anthropic clients pair results to calls by id and echo nothing but the id.
// Gemini 3 also requires the thoughtSignature of a turn's first functionCall
// part back, verbatim, on the next request ("Function call is missing a
// thought_signature", 400); with parallel calls only the first part carries
// one. The design is stateless, so any replica can serve the next turn:
//
//   - The decoder mints an id for every call (MintToolCallID):
//     "call_" + 16 base62 characters (derived from responseId and block
//     index, so a response always yields the same ids) + "__g" + hex of
//     Gemini's own id when it sent one + "__ts_" + base64url of the
//     signature bytes when the part had one. Only [A-Za-z0-9_-] is used, the
//     set Anthropic allows in tool_use ids; ids stay under MaxToolCallIDLen.
//     The signature is also put in llm.ToolCall.Signature.
//   - The encoder recovers the Gemini id (functionCall.id and
//     functionResponse.id) and the signature from ToolCall.Signature or, for
//     clients that only kept the id, from the id (ParseToolCallID).
//   - When the first function call of a model turn still has no signature
//     (history from another model or provider) and the model is Gemini 3 or
//     later, the encoder sends SkipThoughtSignature, the value Google
//     documents for exactly this case ("skip_thought_signature_validator";
//     the Gemini API also accepts "context_engineering_is_the_way_to_go").
//   - Tool results name their function through ToolResult.Name or the
//     earlier assistant tool call with the same id. All functionResponse
//     parts answering a turn go in one user turn, in the order of the calls,
//     each response an object: {"output": text} or {"error": text}, the keys
//     Google's FunctionResponse reference names.
//
// Thought text (thinking parts) is never replayed to Gemini; signatures on
// plain text parts are not carried (they are optional to return).
//
// # Schemas, thinking, finish reasons
//
// See cleanSchema (schema.go) for how JSON Schema becomes Google's Schema
// subset, with parametersJsonSchema as the fallback; thinkingConfig
// (encode.go) for how budgets and efforts map to thinkingBudget and
// thinkingLevel per model generation; finishReason (decode.go) for finish
// reasons. docs/gemini.md has the whole design with sources.
package vertex
