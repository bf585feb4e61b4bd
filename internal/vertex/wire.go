package vertex

import "encoding/json"

// The wire structs below follow Google's REST references for
// GenerateContentRequest / GenerateContentResponse, which Vertex AI
// (aiplatform v1) and AI Studio (generativelanguage v1beta) share. They use
// the camelCase JSON names Google's servers emit. Fields that xjp passes
// through without interpreting are json.RawMessage, so that the same structs
// can later serve the Gemini-native ingress (decode a client's request,
// encode a response) without losing anything.

// GenerateContentRequest is the body of generateContent and
// streamGenerateContent.
type GenerateContentRequest struct {
	Contents          []Content         `json:"contents"`
	SystemInstruction *Content          `json:"systemInstruction,omitempty"`
	Tools             []json.RawMessage `json:"tools,omitempty"`
	ToolConfig        *ToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *GenerationConfig `json:"generationConfig,omitempty"`
	SafetySettings    json.RawMessage   `json:"safetySettings,omitempty"`
	CachedContent     string            `json:"cachedContent,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
}

// Content is one turn: a role ("user" or "model") and its parts. The
// systemInstruction is a Content too (its role is ignored).
type Content struct {
	Role  string `json:"role,omitempty"`
	Parts []Part `json:"parts"`
}

// Part is one piece of content. Exactly one data field is set; Thought and
// ThoughtSignature qualify it.
type Part struct {
	Text string `json:"text,omitempty"`
	// Thought marks a text part as a thought summary.
	Thought bool `json:"thought,omitempty"`
	// ThoughtSignature is opaque bytes (base64 in JSON) that must be echoed
	// back verbatim on the part that carried it.
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	InlineData       *Blob             `json:"inlineData,omitempty"`
	FileData         *FileData         `json:"fileData,omitempty"`
	FunctionCall     *FunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *FunctionResponse `json:"functionResponse,omitempty"`
	// Passed through verbatim.
	ExecutableCode      json.RawMessage `json:"executableCode,omitempty"`
	CodeExecutionResult json.RawMessage `json:"codeExecutionResult,omitempty"`
	VideoMetadata       json.RawMessage `json:"videoMetadata,omitempty"`
	MediaResolution     json.RawMessage `json:"mediaResolution,omitempty"`
}

// Blob is inline media: base64 data and its IANA MIME type.
type Blob struct {
	MIMEType string `json:"mimeType"`
	Data     string `json:"data"`
}

// FileData is media by URI (gs://, an AI Studio file URI, a YouTube URL).
type FileData struct {
	MIMEType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

// FunctionCall is a call the model asks for. Args is a JSON object. ID is
// optional: Gemini may or may not set one.
type FunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

// FunctionResponse answers a FunctionCall. Response must be a JSON object;
// Google's reference says to use the "output" key for the result and the
// "error" key for failures.
type FunctionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

// FunctionDeclaration is a function tool. Parameters (the OpenAPI-subset
// Schema) and ParametersJSONSchema (full JSON Schema) are mutually exclusive.
type FunctionDeclaration struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	Parameters           json.RawMessage `json:"parameters,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

// Tool holds function declarations. Google's hosted tools (googleSearch,
// codeExecution, urlContext…) are other members of the same object and are
// passed through as raw JSON.
type Tool struct {
	FunctionDeclarations []FunctionDeclaration `json:"functionDeclarations,omitempty"`
}

// ToolConfig constrains tool use.
type ToolConfig struct {
	FunctionCallingConfig *FunctionCallingConfig `json:"functionCallingConfig,omitempty"`
}

// FunctionCallingConfig: Mode is AUTO, ANY, NONE or VALIDATED;
// AllowedFunctionNames restricts ANY (and VALIDATED) to the named functions.
type FunctionCallingConfig struct {
	Mode                 string   `json:"mode,omitempty"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

// GenerationConfig holds sampling and output settings.
type GenerationConfig struct {
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	TopK               *int            `json:"topK,omitempty"`
	CandidateCount     *int            `json:"candidateCount,omitempty"`
	MaxOutputTokens    int             `json:"maxOutputTokens,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	PresencePenalty    *float64        `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64        `json:"frequencyPenalty,omitempty"`
	Seed               *int32          `json:"seed,omitempty"`
	ResponseMIMEType   string          `json:"responseMimeType,omitempty"`
	ResponseSchema     json.RawMessage `json:"responseSchema,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
	ResponseModalities []string        `json:"responseModalities,omitempty"`
	ThinkingConfig     *ThinkingConfig `json:"thinkingConfig,omitempty"`
	MediaResolution    string          `json:"mediaResolution,omitempty"`
}

// ThinkingConfig controls thinking. ThinkingBudget (Gemini 2.5; -1 dynamic,
// 0 off) and ThinkingLevel (Gemini 3: MINIMAL, LOW, MEDIUM, HIGH) must not
// both be set.
type ThinkingConfig struct {
	IncludeThoughts bool   `json:"includeThoughts,omitempty"`
	ThinkingBudget  *int   `json:"thinkingBudget,omitempty"`
	ThinkingLevel   string `json:"thinkingLevel,omitempty"`
}

// GenerateContentResponse is a whole answer, or one chunk of a stream.
type GenerateContentResponse struct {
	Candidates     []Candidate     `json:"candidates,omitempty"`
	PromptFeedback *PromptFeedback `json:"promptFeedback,omitempty"`
	UsageMetadata  *UsageMetadata  `json:"usageMetadata,omitempty"`
	ModelVersion   string          `json:"modelVersion,omitempty"`
	ResponseID     string          `json:"responseId,omitempty"`
	CreateTime     string          `json:"createTime,omitempty"`
	// Error is set when Google reports an error inside a 200 stream.
	Error *Status `json:"error,omitempty"`
}

// Candidate is one generated answer (xjp always asks for one).
type Candidate struct {
	Content           *Content        `json:"content,omitempty"`
	FinishReason      string          `json:"finishReason,omitempty"`
	FinishMessage     string          `json:"finishMessage,omitempty"`
	Index             int             `json:"index,omitempty"`
	SafetyRatings     json.RawMessage `json:"safetyRatings,omitempty"`
	CitationMetadata  json.RawMessage `json:"citationMetadata,omitempty"`
	GroundingMetadata json.RawMessage `json:"groundingMetadata,omitempty"`
}

// PromptFeedback says why a prompt was blocked, if it was.
type PromptFeedback struct {
	BlockReason        string          `json:"blockReason,omitempty"`
	BlockReasonMessage string          `json:"blockReasonMessage,omitempty"`
	SafetyRatings      json.RawMessage `json:"safetyRatings,omitempty"`
}

// UsageMetadata is token accounting. PromptTokenCount includes
// CachedContentTokenCount; ThoughtsTokenCount is separate from
// CandidatesTokenCount; ToolUsePromptTokenCount is separate from
// PromptTokenCount (TotalTokenCount sums prompt, candidates, thoughts and
// tool-use prompt).
type UsageMetadata struct {
	PromptTokenCount        int64           `json:"promptTokenCount,omitempty"`
	CandidatesTokenCount    int64           `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount         int64           `json:"totalTokenCount,omitempty"`
	CachedContentTokenCount int64           `json:"cachedContentTokenCount,omitempty"`
	ThoughtsTokenCount      int64           `json:"thoughtsTokenCount,omitempty"`
	ToolUsePromptTokenCount int64           `json:"toolUsePromptTokenCount,omitempty"`
	TrafficType             string          `json:"trafficType,omitempty"`
	PromptTokensDetails     json.RawMessage `json:"promptTokensDetails,omitempty"`
	CandidatesTokensDetails json.RawMessage `json:"candidatesTokensDetails,omitempty"`
	CacheTokensDetails      json.RawMessage `json:"cacheTokensDetails,omitempty"`
}

// ErrorBody is Google's error envelope: {"error": {...}}.
type ErrorBody struct {
	Error *Status `json:"error"`
}

// Status is google.rpc.Status as Google's REST APIs render it: the HTTP code,
// a message, the canonical status name ("RESOURCE_EXHAUSTED") and typed
// details (ErrorInfo, RetryInfo, …) identified by "@type".
type Status struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Status  string            `json:"status,omitempty"`
	Details []json.RawMessage `json:"details,omitempty"`
}
