#!/usr/bin/env bash
# Tears down what deploy/aws/create.sh made for BAZAAR_NAME (default: bazaar): terminates the
# instance(s) tagged stock-bazaar:name=$BAZAAR_NAME (their root volumes go with them), then
# deletes the security group stock-bazaar-$BAZAAR_NAME and the key pair stock-bazaar-$BAZAAR_NAME
# with its private key in ~/.ssh/. A key pair given with BAZAAR_KEY_NAME is never touched.
# Safe to run again: whatever is already gone is skipped.
#
# Settings (environment): BAZAAR_NAME, AWS_REGION (default: us-east-1), AWS_PROFILE.
set -euo pipefail
name="${BAZAAR_NAME:-bazaar}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_PAGER=""
resource="stock-bazaar-$name"
tag_key="stock-bazaar:name"

log() { echo "[destroy] $*" >&2; }
command -v aws >/dev/null || { log "ERROR: the aws CLI is not installed"; exit 1; }

# 1. Instances (and, with DeleteOnTermination, their volumes).
read -r -a instances <<<"$(aws ec2 describe-instances \
  --filters "Name=tag:$tag_key,Values=$name" \
  "Name=instance-state-name,Values=pending,running,stopping,stopped,shutting-down" \
  --query 'Reservations[].Instances[].InstanceId' --output text)"
if [ "${#instances[@]}" -gt 0 ]; then
  log "terminating ${instances[*]}"
  aws ec2 terminate-instances --instance-ids "${instances[@]}" >/dev/null
  aws ec2 wait instance-terminated --instance-ids "${instances[@]}"
  log "terminated"
else
  log "no instance tagged $tag_key=$name"
fi

# 2. The security group: its network interfaces can linger a little after termination.
sg_ids="$(aws ec2 describe-security-groups --filters "Name=group-name,Values=$resource" \
  --query 'SecurityGroups[].GroupId' --output text)"
for sg in $sg_ids; do
  for attempt in $(seq 12); do
    if aws ec2 delete-security-group --group-id "$sg" 2>/dev/null; then
      log "deleted security group $sg"
      break
    fi
    [ "$attempt" -eq 12 ] && { log "ERROR: could not delete security group $sg (still in use?)"; exit 1; }
    sleep 10
  done
done
[ -n "$sg_ids" ] || log "no security group $resource"

# 3. The key pair this deployment created (tagged), and its private key file.
key_tag="$(aws ec2 describe-key-pairs --key-names "$resource" \
  --query "KeyPairs[0].Tags[?Key=='$tag_key'].Value | [0]" --output text 2>/dev/null || true)"
if [ "$key_tag" = "$name" ]; then
  aws ec2 delete-key-pair --key-name "$resource"
  rm -f "$HOME/.ssh/$resource.pem"
  log "deleted key pair $resource and ~/.ssh/$resource.pem"
else
  log "no key pair $resource created by create.sh"
fi

# 4. Anything left with the tag (e.g. a volume someone detached) is reported, not guessed at.
left="$(aws ec2 describe-volumes --filters "Name=tag:$tag_key,Values=$name" \
  --query "Volumes[?State!='deleting'].VolumeId" --output text)"
[ -z "$left" ] || log "WARNING: volumes still tagged $tag_key=$name (delete them by hand): $left"
log "done: nothing of deployment '$name' is billed any more"
