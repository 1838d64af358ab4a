package main

import (
	"io"

	"github.com/spf13/cobra"
)

func newCompletionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "completion",
		Short: "Print a shell completion script: bash, zsh or fish",
		Long: `Completion prints a script that completes slotless's commands and flags, and values such
as --slot green|blue and --stack from the Pulumi.<stack>.yaml files, in the given shell.`,
		Example: `  source <(slotless completion bash)
  slotless completion zsh > "${fpath[1]}/_slotless"
  slotless completion fish > ~/.config/fish/completions/slotless.fish`,
		Args: cobra.ArbitraryArgs,
		RunE: needSubcommand,
	}
	shells := []struct {
		name, example string
		gen           func(root *cobra.Command, w io.Writer) error
	}{
		{"bash", `  source <(slotless completion bash)                        # this shell only
  slotless completion bash > /etc/bash_completion.d/slotless   # every new shell (needs bash-completion)`,
			func(root *cobra.Command, w io.Writer) error { return root.GenBashCompletionV2(w, true) }},
		{"zsh", `  slotless completion zsh > "${fpath[1]}/_slotless"   # then start a new shell`,
			func(root *cobra.Command, w io.Writer) error { return root.GenZshCompletion(w) }},
		{"fish", `  slotless completion fish > ~/.config/fish/completions/slotless.fish`,
			func(root *cobra.Command, w io.Writer) error { return root.GenFishCompletion(w, true) }},
	}
	for _, sh := range shells {
		cmd.AddCommand(&cobra.Command{
			Use:     sh.name,
			Short:   "Print the " + sh.name + " completion script",
			Example: sh.example,
			Args:    noArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				return sh.gen(c.Root(), c.OutOrStdout())
			},
		})
	}
	return cmd
}
