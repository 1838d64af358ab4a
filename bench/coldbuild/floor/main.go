// Command floor is the cold-build floor: a Pulumi program that imports only the Pulumi Go SDK.
package main

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		ctx.Export("floor", pulumi.String("ok"))
		return nil
	})
}
