package azurefake

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestProductLinks: adding an API to a product needs the product (the link's parent) and the
// API in the service, answers with the API's contract, is replaced when it names another
// product, and goes with the API; a classic tier's new service has the sample products.
func TestProductLinks(t *testing.T) {
	const token = "azure-native:apimanagement:ProductApi"
	link := func(product, api string) map[string]any {
		return apim(map[string]any{"productId": product, "apiId": api})
	}
	svc := "/subscriptions/" + sub1 + svcPath
	f := apimWorld(t, "Consumption")
	mustCreate(t, f, "azure-native:apimanagement:Api", apim(map[string]any{"apiId": "orders", "path": "orders", "displayName": "Orders"}))

	tests := []struct {
		name  string
		setup func(c *Cloud)
		in    map[string]any
		want  string // the refusal, "" when it is created
	}{
		{"a product the service does not have", nil, link("partners", "orders"), "ParentResourceNotFound"},
		{"an API the service does not have", func(c *Cloud) { c.PutProduct(svc, "partners") }, link("partners", "billing"), "ResourceNotFound"},
		{"a product and an API of the service", nil, link("partners", "orders"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				if err := f.Store.Update(func(c *Cloud) error { tt.setup(c); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			checked, failures, err := f.Check(token, "partners", nil, pm(tt.in), []byte("seed"))
			if err != nil || len(failures) > 0 {
				t.Fatalf("check: %v %v", err, failures)
			}
			id, out, err := f.Create(token, checked, false)
			switch {
			case tt.want != "":
				if !errMatches(err, tt.want) {
					t.Fatalf("got %v, want %s", err, tt.want)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if want := svc + "/products/partners/apis/orders"; id != want {
				t.Errorf("id: got %s, want %s", id, want)
			}
			for k, want := range map[string]string{"type": "Microsoft.ApiManagement/service/apis", "name": "orders", "path": "orders", "displayName": "Orders", "azureApiVersion": "2024-05-01"} {
				if got := out[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != want {
					t.Errorf("output %s: got %v, want %q", k, got, want)
				}
			}
		})
	}

	t.Run("another product replaces the link", func(t *testing.T) {
		_, replaces := f.Diff(token, pm(link("partners", "orders")), pm(link("internal", "orders")))
		if !slices.Equal(replaces, []string{"productId"}) {
			t.Errorf("replaces: got %v, want [productId]", replaces)
		}
	})
	t.Run("deleting the API deletes its links", func(t *testing.T) {
		if err := f.Delete("azure-native:apimanagement:Api", svc+"/apis/orders"); err != nil {
			t.Fatal(err)
		}
		c, _ := f.Store.Load()
		if links := c.ByType(token); len(links) != 0 {
			t.Errorf("links after the API's deletion: %v", links)
		}
		if _, ok := c.Get(svc + "/products/partners"); !ok {
			t.Error("the product went with the API")
		}
	})
	t.Run("sample products by tier", func(t *testing.T) {
		for sku, want := range map[string]int{"Developer": 2, "Premium": 2, "Consumption": 0, "StandardV2": 0} {
			c, _ := apimWorld(t, sku).Store.Load()
			var got []string
			for _, p := range c.ByType(ProductToken) {
				got = append(got, p.Name())
			}
			if len(got) != want {
				t.Errorf("%s: products %v, want %d", sku, got, want)
			}
		}
	})
}
