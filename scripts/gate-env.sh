# shellcheck shell=bash
# Sourced before `slotless gate`: exports what the gates authenticate with through API
# Management, masked in the log of either CI system.
#
#   . scripts/gate-env.sh STACK
#
# The pinning token is the stack's own secret config (pinToken), read from the last deployment,
# so the pipelines keep no second copy that could disagree with the named value in APIM.

gate_stack="${1:?usage: . scripts/gate-env.sh STACK}"

gate_mask() {
	if [ -n "${TF_BUILD:-}" ]; then
		echo "##vso[task.setsecret]$1"
	elif [ -n "${GITHUB_ACTIONS:-}" ]; then
		echo "::add-mask::$1"
	fi
}

pulumi config refresh --stack "$gate_stack" --force >/dev/null
if ! SLOTLESS_PIN_TOKEN="$(pulumi config get pinToken --stack "$gate_stack" 2>/dev/null)" || [ -z "$SLOTLESS_PIN_TOKEN" ]; then
	echo "gate-env: stack $gate_stack has no pinToken; gates reach one slot only through slot pinning (pulumi config set --secret pinToken ...)" >&2
	return 1
fi
gate_mask "$SLOTLESS_PIN_TOKEN"
export SLOTLESS_PIN_TOKEN

# Azure DevOps passes an undefined $(VAR) through as literal text; treat that as unset.
case "${SLOTLESS_SUBSCRIPTION_KEY:-}" in
'' | \$\(*) unset SLOTLESS_SUBSCRIPTION_KEY ;;
*)
	gate_mask "$SLOTLESS_SUBSCRIPTION_KEY"
	export SLOTLESS_SUBSCRIPTION_KEY
	;;
esac
