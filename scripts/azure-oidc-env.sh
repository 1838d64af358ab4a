# shellcheck shell=bash
# Sourced inside an Azure DevOps AzureCLI@2 task with addSpnToEnvironment: true. Hands the
# service connection's workload identity federation token to Pulumi's azure-native provider,
# which does not read the az CLI login of the task.
#
#   . scripts/azure-oidc-env.sh
#
# A connection that carries a client secret is refused: releases authenticate with federated
# tokens only, so no long-lived credential exists to leak or rotate.

if [ -n "${servicePrincipalKey:-}" ]; then
	echo "##vso[task.logissue type=error]the Azure service connection uses a client secret; use a workload identity federation connection" >&2
	return 1
fi
if [ -z "${idToken:-}" ] || [ -z "${servicePrincipalId:-}" ] || [ -z "${tenantId:-}" ]; then
	echo "##vso[task.logissue type=error]no federated token in the task: set addSpnToEnvironment: true on AzureCLI@2 and use a workload identity federation service connection" >&2
	return 1
fi

ARM_USE_OIDC=true
ARM_OIDC_TOKEN="$idToken"
ARM_CLIENT_ID="$servicePrincipalId"
ARM_TENANT_ID="$tenantId"
ARM_SUBSCRIPTION_ID="$(az account show --query id -o tsv)"
export ARM_USE_OIDC ARM_OIDC_TOKEN ARM_CLIENT_ID ARM_TENANT_ID ARM_SUBSCRIPTION_ID
