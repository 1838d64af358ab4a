package azurefake

import (
	"slices"
	"testing"
)

const ordersDoc = `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
  "/orders": {"get": {"operationId": "listOrders", "summary": "List orders", "responses": {"200": {"description": "ok"}}}},
  "/orders/{id}": {"get": {"operationId": "Get Order!", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "ok"}}}},
  "/health": {"get": {"responses": {"200": {"description": "ok"}}}}}}`

// TestImportMakesTheDocumentsOperations: an API created with an inline document gets its
// operations, named as API Management names them; a re-import with fewer operations deletes
// the others, a declared one included; a document that does not parse is refused.
func TestImportMakesTheDocumentsOperations(t *testing.T) {
	f := apimWorld(t, "Consumption")
	api := mustCreate(t, f, "azure-native:apimanagement:Api", apim(map[string]any{"apiId": "api", "path": "orders", "format": "openapi+json", "value": ordersDoc}))
	c, err := f.Store.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Operations(api), []string{"GET /health", "GET /orders", "GET /orders/{id}"}; !slices.Equal(got, want) {
		t.Fatalf("operations: got %v, want %v", got, want)
	}
	for _, name := range []string{"listorders", "get-order", "get-health"} {
		if _, ok := c.Get(api + "/operations/" + name); !ok {
			t.Errorf("no operation named %s", name)
		}
	}

	mustCreate(t, f, "azure-native:apimanagement:ApiOperation", apim(map[string]any{"apiId": "api", "operationId": "declared", "displayName": "d", "method": "POST", "urlTemplate": "/x"}))
	fewer := `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/orders": {"get": {"operationId": "listOrders", "responses": {"200": {"description": "ok"}}}}}}`
	if _, err := f.Update("azure-native:apimanagement:Api", api, nil, pm(apim(map[string]any{"apiId": "api", "path": "orders", "format": "openapi+json", "value": fewer})), false); err != nil {
		t.Fatal(err)
	}
	if c, err = f.Store.Load(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Operations(api), []string{"GET /orders"}; !slices.Equal(got, want) {
		t.Errorf("after a re-import: got %v, want %v (unmatched operations deleted, the declared one too)", got, want)
	}

	_, err = f.Update("azure-native:apimanagement:Api", api, nil, pm(apim(map[string]any{"apiId": "api", "path": "orders", "format": "openapi+json", "value": "{not json"})), false)
	if !errMatches(err, "ValidationError") {
		t.Errorf("a document that does not parse: got %v, want a ValidationError", err)
	}
}
