package langhost

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// noProgram fails the test if the host runs the program.
func noProgram(t *testing.T) ProgramFunc {
	return func(root, version string) pulumi.RunFunc {
		t.Errorf("the program ran (root %s, version %s)", root, version)
		return func(*pulumi.Context) error { return nil }
	}
}

// TestRunRefusesAnotherVersion: a project that pins another slotless is refused before the
// program runs, with the versions and the way out named.
func TestRunRefusesAnotherVersion(t *testing.T) {
	tests := []struct {
		running, pinned string
		wantErr         string
	}{
		{"v1.3.0", "v1.2.0", "Pulumi.yaml pins slotless v1.2.0 (runtime.options.version) and this is slotless v1.3.0: install v1.2.0"},
		{"v1.1.0", "v1.2.0", "this is slotless v1.1.0: install v1.2.0"},
		{"v1.2.0", "1.2", `runtime.options.version is "1.2", not a slotless release`},
	}
	for _, tt := range tests {
		h := New(tt.running, "", noProgram(t))
		opts, err := structpb.NewStruct(map[string]any{"version": tt.pinned})
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Run(context.Background(), &pulumirpc.RunRequest{Project: "orders", Stack: "dev", Info: &pulumirpc.ProgramInfo{RootDirectory: "/p", Options: opts}})
		if err != nil || !strings.Contains(res.GetError(), tt.wantErr) {
			t.Errorf("%s pinned %s: got %v, %q; want a run error containing %q", tt.running, tt.pinned, err, res.GetError(), tt.wantErr)
		}
	}
}

func TestPluginVersion(t *testing.T) {
	for v, want := range map[string]string{"v1.2.3": "1.2.3", "v1.2.3-rc.1": "1.2.3-rc.1", "(devel) abc": "0.0.0", "": "0.0.0"} {
		if got := pluginVersion(v); got != want {
			t.Errorf("pluginVersion(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestServe starts the host as the CLI starts a plugin, reads the port from its first line of
// output, and asks it what the engine asks before a run.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, []string{"-tracing", "", "127.0.0.1:1"}, w, io.Discard, "v1.2.3", noProgram(t))
	}()
	port, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("127.0.0.1:"+strings.TrimSpace(port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pulumirpc.NewLanguageRuntimeClient(conn)

	info, err := c.GetPluginInfo(ctx, &emptypb.Empty{})
	if err != nil || info.GetVersion() != "1.2.3" {
		t.Errorf("GetPluginInfo: got %v, %v; want 1.2.3", info, err)
	}
	pkgs, err := c.GetRequiredPackages(ctx, &pulumirpc.GetRequiredPackagesRequest{})
	if err != nil || len(pkgs.GetPackages()) != 1 {
		t.Fatalf("GetRequiredPackages: got %v, %v", pkgs, err)
	}
	if p := pkgs.GetPackages()[0]; p.GetName() != "azure-native" || p.GetKind() != "resource" || p.GetVersion() != "3.28.0" {
		t.Errorf("GetRequiredPackages: got %v, want the resource plugin azure-native 3.28.0 the bindings were generated for", p)
	}
	about, err := c.About(ctx, &pulumirpc.AboutRequest{})
	if err != nil || about.GetVersion() != "v1.2.3" {
		t.Errorf("About: got %v, %v", about, err)
	}
	stream, err := c.InstallDependencies(ctx, &pulumirpc.InstallDependenciesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil || !strings.Contains(string(msg.GetStdout()), "no dependencies to install") {
		t.Errorf("InstallDependencies: got %q, %v", msg.GetStdout(), err)
	}
	if _, err := c.Handshake(ctx, &pulumirpc.LanguageHandshakeRequest{EngineAddress: "127.0.0.1:2"}); err != nil {
		t.Errorf("Handshake: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after its context ended: %v", err)
	}
}
