package stack

// AzureNativeVersion is the azure-native provider the program's bindings were generated for
// (sdks/azure-native), which every resource registers with. The language host names it as the
// one package the program needs, so `pulumi up` installs exactly that provider;
// TestProviderVersion ties it to what the bindings register.
const AzureNativeVersion = "3.28.0"
