package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// APISurface is what the API exposes: the operations of an imported OpenAPI document
// (apiSpec), or, without one, a passthrough of every method on /*. The health operation is
// always there, because the release's pinned gates and warm-up reach each slot through it.
type APISurface struct {
	// Spec is the OpenAPI document API Management imports, as JSON with the health operation
	// added when the document lacks it; empty for a passthrough.
	Spec string
	// Operations are the operations the API ends up with: the document's, or the passthrough's
	// (declared one by one as API operations).
	Operations []Operation
}

// HealthOperationID names the health operation slotless adds to a passthrough or to a
// document without one.
const HealthOperationID = "health"

// passthroughMethods are the methods a passthrough API routes on /*.
var passthroughMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// Passthrough is the API surface without apiSpec: each method on /*, and GET healthPath. API
// Management matches the most specific template first, so the health path reaches its own
// operation and every other request the wildcard one.
func Passthrough(healthPath string) APISurface {
	s := APISurface{}
	for _, m := range passthroughMethods {
		s.Operations = append(s.Operations, Operation{ID: "all-" + strings.ToLower(m), Method: m, URLTemplate: "/*", DisplayName: m + " on every path"})
	}
	s.Operations = append(s.Operations, healthOperation(healthPath))
	return s
}

func healthOperation(healthPath string) Operation {
	return Operation{ID: HealthOperationID, Method: "GET", URLTemplate: healthPath, DisplayName: "Health of the slot serving the request"}
}

// LoadAPISurface reads the API surface the config asks for: the OpenAPI document at spec,
// relative to root (the directory of Pulumi.yaml), or the passthrough when spec is empty.
func LoadAPISurface(root, spec, healthPath string) (APISurface, error) {
	if spec == "" {
		return Passthrough(healthPath), nil
	}
	path := spec
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, spec)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return APISurface{}, fmt.Errorf("apiSpec: %w", err)
	}
	s, err := ParseAPISpec(raw, healthPath)
	if err != nil {
		return APISurface{}, fmt.Errorf("apiSpec: %s: %w", spec, err)
	}
	return s, nil
}

// ParseAPISpec checks an OpenAPI 3 document (YAML or JSON) and returns the surface it
// declares. The document must define GET healthPath itself, or nothing that would route it
// elsewhere: then the health operation is added.
func ParseAPISpec(raw []byte, healthPath string) (APISurface, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return APISurface{}, fmt.Errorf("not an OpenAPI document: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		return APISurface{}, fmt.Errorf("openapi %q: want an OpenAPI 3.0 document, which API Management imports", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return APISurface{}, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		return APISurface{}, errors.New("the document has no paths")
	}
	var ops []Operation
	hasHealth := false
	greedy := ""
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		for method, op := range item.Operations() {
			ops = append(ops, Operation{ID: op.OperationID, Method: method, URLTemplate: p, DisplayName: op.Summary})
			switch {
			case method != "GET":
			case p == healthPath:
				hasHealth = true
			case greedy == "" && templateMatches(p, healthPath):
				greedy = p
			}
		}
	}
	// API Management matches an exact template before a templated one, so a template that
	// would take the health path is harmless only when the document declares the path itself.
	if !hasHealth && greedy != "" {
		return APISurface{}, fmt.Errorf("GET %s would route the health path %s elsewhere: declare GET %s in the document, or set healthPath to a path it leaves free", greedy, healthPath, healthPath)
	}
	if !hasHealth {
		h := healthOperation(healthPath)
		h.ID = "slotless-" + HealthOperationID
		get := &openapi3.Operation{
			OperationID: h.ID,
			Summary:     h.DisplayName,
			Responses:   openapi3.NewResponses(openapi3.WithStatus(200, &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription("healthy")})),
		}
		if item := doc.Paths.Value(healthPath); item != nil {
			item.Get = get // the path's other methods stay
		} else {
			doc.Paths.Set(healthPath, &openapi3.PathItem{Get: get})
		}
		ops = append(ops, h)
	}
	slices.SortFunc(ops, func(a, b Operation) int {
		return strings.Compare(a.URLTemplate+" "+a.Method, b.URLTemplate+" "+b.Method)
	})
	js, err := doc.MarshalJSON()
	if err != nil {
		return APISurface{}, fmt.Errorf("render the document: %w", err)
	}
	return APISurface{Spec: string(js), Operations: ops}, nil
}

// quotedParam is a template parameter ({id}) once regexp.QuoteMeta has escaped its braces.
var quotedParam = regexp.MustCompile(`\\\{[^}/]+\\\}`)

// templateMatches reports whether a path template with parameters (/orders/{id}) matches a
// concrete path; a template without parameters matches nothing here.
func templateMatches(template, path string) bool {
	if !strings.Contains(template, "{") {
		return false
	}
	re := "^" + quotedParam.ReplaceAllString(regexp.QuoteMeta(template), "[^/]+") + "$"
	return regexp.MustCompile(re).MatchString(path)
}

// Route finds the operation a request's method and path (under the API) reach, as API
// Management matches them: an exact template first, then a templated one, then /*.
func (s APISurface) Route(method, path string) (Operation, bool) {
	var templated, wildcard *Operation
	for i, o := range s.Operations {
		if o.Method != method {
			continue
		}
		switch {
		case o.URLTemplate == path:
			return o, true
		case o.URLTemplate == "/*":
			wildcard = &s.Operations[i]
		case templated == nil && templateMatches(o.URLTemplate, path):
			templated = &s.Operations[i]
		}
	}
	if templated != nil {
		return *templated, true
	}
	if wildcard != nil {
		return *wildcard, true
	}
	return Operation{}, false
}
