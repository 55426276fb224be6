#!/usr/bin/env bash
# Creates one AWS VM running Stock Bazaar with docker compose, waits until GET /readyz answers (a leader and the catalog)
# and prints the URL. Tear it all down with deploy/aws/destroy.sh (same BAZAAR_NAME).
#
# What it creates (all tagged stock-bazaar:name=$BAZAAR_NAME):
#   - an EC2 key pair stock-bazaar-$BAZAAR_NAME, private key saved to ~/.ssh/ (unless
#     BAZAAR_KEY_NAME names an existing key pair: then that key is used and kept)
#   - a security group stock-bazaar-$BAZAAR_NAME in the default VPC: inbound TCP 8080 (HTTP,
#     from BAZAAR_HTTP_CIDR) and TCP 22 (SSH, from BAZAAR_SSH_CIDR) only
#   - one m5a.xlarge instance (Debian 12, 30 GiB gp3 root) whose cloud-init user data
#     (deploy/aws/user-data.sh) installs Docker and docker-compose and starts the compose stack
# The source: with BAZAAR_REPO_URL the VM clones it; otherwise this script pushes the committed
# tree (`git archive HEAD`) over SSH. The VM builds the images from the Dockerfile.
#
# Settings (environment):
#   BAZAAR_NAME         deployment name (default: bazaar)
#   AWS_REGION          region (default: us-east-1); AWS_PROFILE as usual for the aws CLI
#   BAZAAR_INSTANCE_TYPE  (default: m5a.xlarge, about 0.172 USD/hour on demand in us-east-1)
#   BAZAAR_CLUSTER      1 = run the 3-node NATS cluster setup (default: 0, one nats-server)
#   BAZAAR_HTTP_CIDR    who may reach port 8080 (default: 0.0.0.0/0)
#   BAZAAR_SSH_CIDR     who may reach port 22 (default: this machine's public IP/32)
#   BAZAAR_KEY_NAME     an existing EC2 key pair to use instead of creating one
#   BAZAAR_SSH_KEY      its private key file (needed to push the source when no repo URL)
#   BAZAAR_REPO_URL, BAZAAR_REPO_REF   git URL the VM can clone, and branch or tag (main)
#   BAZAAR_VOLUME_GB    root volume size (default: 30)
#   BAZAAR_WAIT_MIN     how long to wait for /readyz (default: 40; the first build is slow)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

name="${BAZAAR_NAME:-bazaar}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_PAGER=""
instance_type="${BAZAAR_INSTANCE_TYPE:-m5a.xlarge}"
cluster="${BAZAAR_CLUSTER:-0}"
http_cidr="${BAZAAR_HTTP_CIDR:-0.0.0.0/0}"
volume_gb="${BAZAAR_VOLUME_GB:-30}"
wait_min="${BAZAAR_WAIT_MIN:-40}"
repo_url="${BAZAAR_REPO_URL:-}"
repo_ref="${BAZAAR_REPO_REF:-main}"
resource="stock-bazaar-$name"
tag_key="stock-bazaar:name"
ssh_user="admin" # the login of Debian's cloud images

log() { echo "[create] $*" >&2; }
die() {
  echo "[create] ERROR: $*" >&2
  exit 1
}
command -v aws >/dev/null || die "the aws CLI is not installed (https://aws.amazon.com/cli/)"
command -v curl >/dev/null || die "curl is not installed"
aws sts get-caller-identity --query Account --output text >/dev/null ||
  die "the aws CLI has no working credentials (aws configure, or AWS_PROFILE)"

existing="$(aws ec2 describe-instances \
  --filters "Name=tag:$tag_key,Values=$name" \
  "Name=instance-state-name,Values=pending,running,stopping,stopped" \
  --query 'Reservations[].Instances[].InstanceId' --output text)"
[ -z "$existing" ] || die "deployment '$name' already has instance(s) $existing (destroy.sh first, or set BAZAAR_NAME)"

# 1. The key pair.
if [ -n "${BAZAAR_KEY_NAME:-}" ]; then
  key_name="$BAZAAR_KEY_NAME"
  key_file="${BAZAAR_SSH_KEY:-}"
  log "using the existing key pair $key_name"
else
  key_name="$resource"
  key_file="$HOME/.ssh/$resource.pem"
  if aws ec2 describe-key-pairs --key-names "$key_name" >/dev/null 2>&1; then
    [ -f "$key_file" ] || die "key pair $key_name exists but $key_file is missing (destroy.sh removes both)"
    log "reusing key pair $key_name ($key_file)"
  else
    log "creating key pair $key_name -> $key_file"
    mkdir -p "$HOME/.ssh"
    (
      umask 077
      aws ec2 create-key-pair --key-name "$key_name" --key-type ed25519 \
        --tag-specifications "ResourceType=key-pair,Tags=[{Key=$tag_key,Value=$name}]" \
        --query KeyMaterial --output text >"$key_file"
    )
  fi
fi
if [ -z "$repo_url" ] && [ ! -f "$key_file" ]; then
  die "without BAZAAR_REPO_URL the source is pushed over SSH: set BAZAAR_SSH_KEY to the private key of $key_name"
fi

# 2. The security group: 8080 and 22 only.
vpc_id="$(aws ec2 describe-vpcs --filters Name=isDefault,Values=true --query 'Vpcs[0].VpcId' --output text)"
[ "$vpc_id" != None ] || die "no default VPC in $AWS_REGION (create one: aws ec2 create-default-vpc)"
if [ -z "${BAZAAR_SSH_CIDR:-}" ]; then
  my_ip="$(curl -fsS --max-time 10 https://checkip.amazonaws.com | tr -d '[:space:]')" ||
    die "cannot find this machine's public IP; set BAZAAR_SSH_CIDR"
  ssh_cidr="$my_ip/32"
else
  ssh_cidr="$BAZAAR_SSH_CIDR"
fi
sg_id="$(aws ec2 describe-security-groups \
  --filters "Name=group-name,Values=$resource" "Name=vpc-id,Values=$vpc_id" \
  --query 'SecurityGroups[0].GroupId' --output text)"
if [ "$sg_id" = None ]; then
  log "creating security group $resource in $vpc_id (8080 from $http_cidr, 22 from $ssh_cidr)"
  sg_id="$(aws ec2 create-security-group --group-name "$resource" --vpc-id "$vpc_id" \
    --description "Stock Bazaar $name: HTTP 8080 and SSH only" \
    --tag-specifications "ResourceType=security-group,Tags=[{Key=$tag_key,Value=$name}]" \
    --query GroupId --output text)"
  aws ec2 authorize-security-group-ingress --group-id "$sg_id" \
    --ip-permissions \
    "IpProtocol=tcp,FromPort=8080,ToPort=8080,IpRanges=[{CidrIp=$http_cidr,Description=HTTP}]" \
    "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=$ssh_cidr,Description=SSH}]" \
    >/dev/null
else
  log "reusing security group $resource ($sg_id)"
fi

# 3. The instance: Debian 12 from AWS's public SSM parameter, user data from user-data.sh.
ami="$(aws ssm get-parameter --name /aws/service/debian/release/12/latest/amd64 \
  --query Parameter.Value --output text)"
root_device="$(aws ec2 describe-images --image-ids "$ami" --query 'Images[0].RootDeviceName' --output text)"
compose_file=docker-compose.yml
[ "$cluster" = 1 ] && compose_file=docker-compose.yml:docker-compose.cluster.yml
user_data="$(mktemp)"
trap 'rm -f "$user_data"' EXIT
sed -e "s|@COMPOSE_FILE@|$compose_file|" -e "s|@REPO_URL@|$repo_url|" -e "s|@REPO_REF@|$repo_ref|" \
  "$here/user-data.sh" >"$user_data"
log "launching $instance_type from $ami ($root_device, ${volume_gb} GiB gp3) in $AWS_REGION"
instance_id="$(aws ec2 run-instances --image-id "$ami" --instance-type "$instance_type" \
  --key-name "$key_name" --security-group-ids "$sg_id" \
  --user-data "file://$user_data" \
  --metadata-options HttpTokens=required,HttpEndpoint=enabled \
  --block-device-mappings "DeviceName=$root_device,Ebs={VolumeSize=$volume_gb,VolumeType=gp3,DeleteOnTermination=true}" \
  --tag-specifications \
  "ResourceType=instance,Tags=[{Key=Name,Value=$resource},{Key=$tag_key,Value=$name}]" \
  "ResourceType=volume,Tags=[{Key=Name,Value=$resource},{Key=$tag_key,Value=$name}]" \
  --query 'Instances[0].InstanceId' --output text)"
log "instance $instance_id: waiting until it runs"
aws ec2 wait instance-running --instance-ids "$instance_id"
ip="$(aws ec2 describe-instances --instance-ids "$instance_id" \
  --query 'Reservations[0].Instances[0].PublicIpAddress' --output text)"
[ "$ip" != None ] || die "instance $instance_id has no public IP (does the default subnet assign one?)"
log "instance $instance_id runs at $ip"

# 4. The source, pushed over SSH when the VM does not clone it.
ssh_opts=(-o StrictHostKeyChecking=accept-new -o ConnectTimeout=10 -o BatchMode=yes)
[ -n "$key_file" ] && ssh_opts+=(-i "$key_file")
if [ -z "$repo_url" ]; then
  log "waiting for SSH and for cloud-init to install Docker"
  for _ in $(seq 60); do
    ssh "${ssh_opts[@]}" "$ssh_user@$ip" true 2>/dev/null && break
    sleep 5
  done
  ssh "${ssh_opts[@]}" "$ssh_user@$ip" 'sudo cloud-init status --wait >/dev/null' ||
    die "cloud-init failed on $ip: see /var/log/cloud-init-output.log there"
  log "pushing the committed tree (git archive HEAD) to /opt/stock-bazaar"
  git -C "$root" archive --format=tar HEAD |
    ssh "${ssh_opts[@]}" "$ssh_user@$ip" 'tar -x -C /opt/stock-bazaar'
  ssh "${ssh_opts[@]}" "$ssh_user@$ip" 'sudo systemctl start --no-block stock-bazaar.service'
fi

# 5. Wait for the stack (the first start builds the images on the VM).
url="http://$ip:8080"
log "waiting up to $wait_min min for $url/readyz (first start builds the images)"
deadline=$((SECONDS + wait_min * 60))
until curl -fsS --max-time 5 "$url/readyz" >/dev/null 2>&1; do
  if ((SECONDS > deadline)); then
    die "no ready answer from $url/readyz after $wait_min min; look at: ssh $ssh_user@$ip 'sudo journalctl -u stock-bazaar; cd /opt/stock-bazaar && docker-compose ps'"
  fi
  sleep 10
done
echo
echo "Stock Bazaar is up: $url"
echo "  curl $url/stocks/GameStart"
echo "  ssh ${key_file:+-i $key_file }$ssh_user@$ip   # then: cd /opt/stock-bazaar && docker-compose ps"
echo "The NATS bus is not reachable from outside the VM and runs with authentication on; the"
echo "operator's password is on the VM only: sudo cat /opt/stock-bazaar/secrets/nats-operator.password"
echo "(operator access from the VM: docs/SECURITY.md, \"Operator access\")."
echo "It costs money while it runs (m5a.xlarge: about 0.172 USD/hour on demand in us-east-1,"
echo "plus the disk); remove everything with: BAZAAR_NAME=$name deploy/aws/destroy.sh"
