// Command slotless is the Pulumi program: zero-downtime, progressive releases for Azure
// Functions Flex Consumption behind an API Management weighted backend pool.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/stack"
)

func main() {
	pulumi.Run(stack.Program)
}
