package azurefake

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// Name and Version are what the stand-in registers as: the azure-native provider the SDK is
// generated for, so `pulumi up` resolves it exactly as it would resolve the real one.
const (
	Name    = "azure-native"
	Version = "3.28.0"
)

// Environment variables the stand-in reads. CloudEnv names the test's cloud file;
// DefaultSubscriptionEnv stands in for the subscription `az login` selects, used when neither
// azure-native:subscriptionId nor ARM_SUBSCRIPTION_ID is set.
const (
	CloudEnv               = "AZUREFAKE_CLOUD"
	DefaultSubscriptionEnv = "AZUREFAKE_DEFAULT_SUBSCRIPTION"
)

// Server is the gRPC resource provider the Pulumi engine talks to.
type Server struct {
	pulumirpc.UnimplementedResourceProviderServer
	fake *Fake
}

// NewServer returns a provider serving the given schema against the cloud file in
// $AZUREFAKE_CLOUD.
func NewServer(schema *Schema) (*Server, error) {
	path := os.Getenv(CloudEnv)
	if path == "" {
		return nil, fmt.Errorf("%s is not set: the stand-in provider needs a cloud file", CloudEnv)
	}
	return &Server{fake: &Fake{Schema: schema, Store: Store{Path: path}}}, nil
}

var unmarshal = plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true, KeepSecrets: true}
var marshal = plugin.MarshalOptions{KeepUnknowns: true, SkipNulls: true, KeepSecrets: true}

func props(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, unmarshal)
}

// pair unmarshals a request's old and new properties.
func pair(olds, news *structpb.Struct) (resource.PropertyMap, resource.PropertyMap, error) {
	o, err := props(olds)
	if err != nil {
		return nil, nil, err
	}
	n, err := props(news)
	return o, n, err
}

func tokenOf(urn string) string { return string(resource.URN(urn).Type()) }

// GetPluginInfo implements the provider protocol.
func (s *Server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// Handshake implements the provider protocol.
func (s *Server) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

// CheckConfig implements the provider protocol; like azure-native it accepts any config.
func (s *Server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// DiffConfig implements the provider protocol.
func (s *Server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

// Configure reads the subscription and the default location, as azure-native does.
func (s *Server) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	cfg := map[string]string{}
	//lint:ignore SA1019 the engine still sends Variables alongside Args, and azure-native reads them
	for k, v := range req.GetVariables() {
		k = strings.TrimPrefix(strings.TrimPrefix(k, "azure-native:config:"), "azure-native:")
		cfg[k] = v
	}
	if args, err := props(req.GetArgs()); err == nil {
		for k, v := range args {
			if v.IsString() {
				cfg[string(k)] = v.StringValue()
			}
		}
	}
	sub := cfg["subscriptionId"]
	for _, env := range []string{"ARM_SUBSCRIPTION_ID", DefaultSubscriptionEnv} {
		if sub == "" {
			sub = os.Getenv(env)
		}
	}
	if sub == "" {
		return nil, fmt.Errorf("no subscription: set azure-native:subscriptionId or ARM_SUBSCRIPTION_ID, or sign in with az login")
	}
	s.fake.Subscription = sub
	s.fake.Location = cfg["location"]
	// The identity azure-native signs in as: azure-native:clientId, else ARM_CLIENT_ID.
	s.fake.ClientID = cfg["clientId"]
	if s.fake.ClientID == "" {
		s.fake.ClientID = os.Getenv("ARM_CLIENT_ID")
	}
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

// Check implements the provider protocol.
func (s *Server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	olds, news, err := pair(req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	name := resource.URN(req.GetUrn()).Name()
	seed := req.GetRandomSeed()
	if a := req.GetAutonaming(); a != nil && a.GetMode() != pulumirpc.CheckRequest_AutonamingOptions_DISABLE && a.GetProposedName() != "" {
		// A project-level autonaming pattern proposes the whole name.
		key := resource.PropertyKey(armSpecs[tokenOf(req.GetUrn())].nameKey)
		if !news.HasValue(key) && !olds.HasValue(key) {
			news[key] = resource.NewStringProperty(a.GetProposedName())
		}
	}
	checked, failures, err := s.fake.Check(tokenOf(req.GetUrn()), name, olds, news, seed)
	if err != nil {
		return nil, err
	}
	inputs, err := plugin.MarshalProperties(checked, marshal)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: inputs}
	for _, f := range failures {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Reason: f})
	}
	return resp, nil
}

// Diff implements the provider protocol.
func (s *Server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, news, err := pair(req.GetOldInputs(), req.GetNews())
	if err != nil {
		return nil, err
	}
	changed, replaces := s.fake.Diff(tokenOf(req.GetUrn()), olds, news)
	changed = slices.DeleteFunc(changed, func(k string) bool { return slices.Contains(req.GetIgnoreChanges(), k) })
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	if len(changed) == 0 {
		return resp, nil
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	resp.Diffs = changed
	resp.Replaces = replaces
	resp.DeleteBeforeReplace = len(replaces) > 0 && !news[createBeforeDeleteKey].IsBool()
	for _, k := range changed {
		kind := pulumirpc.PropertyDiff_UPDATE
		if slices.Contains(replaces, k) {
			kind = pulumirpc.PropertyDiff_UPDATE_REPLACE
		}
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return resp, nil
}

// Create implements the provider protocol.
func (s *Server) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := props(req.GetProperties())
	if err != nil {
		return nil, err
	}
	id, outputs, err := s.fake.Create(tokenOf(req.GetUrn()), inputs, req.GetPreview())
	if err != nil {
		return nil, err
	}
	out, err := plugin.MarshalProperties(outputs, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: out}, nil
}

// Read implements the provider protocol (refresh).
func (s *Server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	olds, oldIns, err := pair(req.GetProperties(), req.GetInputs())
	if err != nil {
		return nil, err
	}
	if req.GetInputs() == nil {
		oldIns = nil
	}
	outputs, inputs, ok, err := s.fake.Read(tokenOf(req.GetUrn()), req.GetId(), olds, oldIns)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &pulumirpc.ReadResponse{}, nil
	}
	out, err := plugin.MarshalProperties(outputs, marshal)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.ReadResponse{Id: req.GetId(), Properties: out, Inputs: req.GetInputs()}
	if inputs != nil {
		if resp.Inputs, err = plugin.MarshalProperties(inputs, marshal); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// Update implements the provider protocol.
func (s *Server) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	olds, news, err := pair(req.GetOlds(), req.GetNews())
	if err != nil {
		return nil, err
	}
	outputs, err := s.fake.Update(tokenOf(req.GetUrn()), req.GetId(), olds, news, req.GetPreview())
	if err != nil {
		return nil, err
	}
	out, err := plugin.MarshalProperties(outputs, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

// Delete implements the provider protocol.
func (s *Server) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, s.fake.Delete(tokenOf(req.GetUrn()), req.GetId())
}

// Invoke implements the provider protocol.
func (s *Server) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args, err := props(req.GetArgs())
	if err != nil {
		return nil, err
	}
	outputs, err := s.fake.Invoke(req.GetTok(), args)
	if err != nil {
		return nil, err
	}
	out, err := plugin.MarshalProperties(outputs, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: out}, nil
}

// Cancel implements the provider protocol.
func (s *Server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
