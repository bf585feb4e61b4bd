package ingress

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/vertex"
)

// gemini serves the Gemini-native API: POST /v1beta/models/{model}:
// generateContent, :streamGenerateContent (SSE with ?alt=sse, a JSON array
// without) and :countTokens, for @google/genai and gemini-cli.
func (s *Server) gemini(w http.ResponseWriter, r *http.Request) {
	target := r.PathValue("target")
	i := strings.LastIndexByte(target, ':')
	if i <= 0 {
		s.writeError(w, r, geminiErrors, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusNotFound, Code: "not_found",
			Message: fmt.Sprintf("no such method: %s (want models/MODEL:generateContent, :streamGenerateContent or :countTokens)", r.URL.Path)})
		return
	}
	model, method := strings.TrimPrefix(target[:i], "models/"), target[i+1:]
	switch method {
	case "generateContent":
		s.serveModel(geminiDialect(model, false, false))(w, r)
	case "streamGenerateContent":
		s.serveModel(geminiDialect(model, true, r.URL.Query().Get("alt") == "sse"))(w, r)
	case "countTokens":
		s.geminiCountTokens(w, r, model)
	default:
		s.writeError(w, r, geminiErrors, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusNotFound, Code: "not_found",
			Message: fmt.Sprintf("method %q is not supported by xjp (generateContent, streamGenerateContent and countTokens are)", method)})
	}
}

func (s *Server) geminiCountTokens(w http.ResponseWriter, r *http.Request, model string) {
	d := geminiErrors
	body, lerr := s.readBody(r)
	if lerr != nil {
		s.writeError(w, r, d, lerr)
		return
	}
	req, err := vertex.DecodeCountTokensRequest(model, body)
	if err != nil {
		s.writeError(w, r, d, err)
		return
	}
	recorderOf(w).model = req.Model
	m, err := s.gw.Resolve(req.Model)
	if err != nil {
		s.writeError(w, r, d, err)
		return
	}
	if key := KeyFrom(r.Context()); !key.Allows(m.Name) {
		s.writeError(w, r, d, modelNotAllowed(key, m.Name))
		return
	}
	n, err := s.countInput(r, m, req)
	if err != nil {
		s.writeError(w, r, d, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(vertex.EncodeCountTokensResponse(n))
}

// geminiModelInfo is a model in the Gemini API's list format.
type geminiModelInfo struct {
	Name                       string   `json:"name"`
	BaseModelID                string   `json:"baseModelId"`
	Version                    string   `json:"version"`
	DisplayName                string   `json:"displayName"`
	Description                string   `json:"description,omitempty"`
	SupportedGenerationMethods []string `json:"supportedGenerationMethods"`
}

func newGeminiModelInfo(name, description string) geminiModelInfo {
	return geminiModelInfo{Name: "models/" + name, BaseModelID: name, Version: "xjp", DisplayName: name, Description: description,
		SupportedGenerationMethods: []string{"generateContent", "streamGenerateContent", "countTokens"}}
}

// geminiModels lists the logical models in the Gemini API's format.
func (s *Server) geminiModels(w http.ResponseWriter, r *http.Request) {
	key := KeyFrom(r.Context())
	out := struct {
		Models []geminiModelInfo `json:"models"`
	}{Models: []geminiModelInfo{}}
	for _, m := range s.gw.Table().Models() {
		if key.Allows(m.Name) {
			out.Models = append(out.Models, newGeminiModelInfo(m.Name, m.Description))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, out)
}

// geminiModel gets one model (GET /v1beta/models/{model}).
func (s *Server) geminiModel(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.PathValue("model"), "models/")
	m, err := s.gw.Resolve(name)
	if err != nil || !KeyFrom(r.Context()).Allows(m.Name) {
		s.writeError(w, r, geminiErrors, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusNotFound, Code: "model_not_found",
			Message: fmt.Sprintf("the model %q does not exist", name)})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, newGeminiModelInfo(m.Name, m.Description))
}
