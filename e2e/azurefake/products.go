package azurefake

import "strings"

// Products of an API Management service, and an API's membership of one (ProductApi).
//
//   - A product is the service owner's: the stand-in has no Pulumi resource for it, so a test
//     puts one with PutProduct, as an owner creates one in the portal. A service of a classic
//     tier (Developer, Basic, Standard, Premium) is created with the two sample products,
//     "starter" and "unlimited" (PSRule.Rules.Azure, Azure.APIM.SampleProducts: "These products
//     are created by default when an API Management Service using V1 plans is created").
//   - Adding an API to a product (ProductApi_CreateOrUpdate, PUT
//     .../service/{serviceName}/products/{productId}/apis/{apiId}, APIM REST 2024-05-01
//     apimproducts.json) needs both to exist in the service: the product is the link's parent
//     (ParentResourceNotFound, checkParent), and an API the service does not have is refused
//     with 404 ResourceNotFound. The answer is the API's own contract (outputType, and its path
//     and display name, computeOnWrite). Deleting the product or the API removes the link.

// ProductToken is the type token the cloud records a product under. The subset schema has no
// Product resource: the program never creates one.
const ProductToken = "azure-native:apimanagement:Product"

// sampleProductTiers are the tiers whose services are created with sampleProducts.
var sampleProductTiers = []string{"Developer", "Basic", "Standard", "Premium"}

// sampleProducts are the products a classic tier's new service has.
var sampleProducts = []string{"starter", "unlimited"}

// PutProduct adds the product productID to the service with this id, as its owner would.
func (c *Cloud) PutProduct(serviceID, productID string) {
	svc, _ := c.Get(serviceID)
	sub := ""
	if svc != nil {
		sub = svc.Subscription
	}
	id := serviceID + "/products/" + productID
	c.Put(&Resource{ID: id, Token: ProductToken, Subscription: sub,
		Inputs:     map[string]any{"productId": productID},
		Properties: map[string]any{"name": productID, "type": "Microsoft.ApiManagement/service/products", "displayName": productID}})
}

// productAPITarget is the id of the API a product link names: .../products/P/apis/A gives
// .../apis/A of the same service.
func productAPITarget(linkID string) string {
	return serviceID(linkID) + "/apis/" + lastSegment(linkID)
}

// refuseProductAPI refuses a link to an API the service does not have.
func refuseProductAPI(c *Cloud, id string) error {
	if _, ok := c.Get(productAPITarget(id)); !ok {
		return azErr(404, "ResourceNotFound", "Api not found: '%s' is not an API of service '%s'.", lastSegment(id), lastSegment(serviceID(id)))
	}
	return nil
}

// deleteLinksOf removes the product links of an API that is deleted, as APIM does.
func deleteLinksOf(c *Cloud, apiID string) {
	for _, l := range c.ByType("azure-native:apimanagement:ProductApi") {
		if strings.EqualFold(productAPITarget(l.ID), apiID) {
			c.Delete(l.ID)
		}
	}
}
