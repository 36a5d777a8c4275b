#!/usr/bin/env bash
# shellcheck disable=SC2154  # venv, work, here and play come from target_lib.sh
# The real-account path, with an AWS API emulator (moto_server, port 5064) standing in for the
# account: `site.yml -i inventories/aws` creates the network and bucket, then `--check` reaches
# ParallelCluster's dry run with the region of HPC_REGION, the vpc role's key pair and SSH
# restricted to the VPC, and creates no stack. The inventory finds its region in HPC_REGION too.
set -euo pipefail
source "$(dirname "$0")/../../target_lib.sh"
port=5064
endpoint=http://127.0.0.1:$port
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "$endpoint/moto-api/" && break; sleep 0.2; done

# The emulator stands in for an account: any credentials of the AWS chain.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_URL=$endpoint HPC_REGION=eu-west-1
vars=(-e "hpc_aws_endpoint_url=$endpoint" -e "hpc_state_dir=$work/state")
play -i inventories/aws playbooks/site.yml --tags network,bucket "${vars[@]}" > "$work/create.log" \
  || { cat "$work/create.log"; exit 1; }
ami=$("$venv/bin/python" - <<PY
import boto3
ec2 = boto3.client("ec2", endpoint_url="$endpoint", region_name="eu-west-1")
print(ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"])
PY
)
# Two head nodes as ParallelCluster tags them, one in HPC_REGION and one elsewhere: the inventory
# must find the first only.
"$venv/bin/python" - <<PY
import boto3
for region, name in (("eu-west-1", "in-region"), ("us-east-1", "elsewhere")):
    ec2 = boto3.client("ec2", endpoint_url="$endpoint", region_name=region)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = [{"Key": "parallelcluster:node-type", "Value": "HeadNode"},
            {"Key": "parallelcluster:cluster-name", "Value": name}]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                      TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
PY
# --check: pcluster's dry run; its validators may refuse the emulated account's AMI (a non-zero exit).
ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json play -i inventories/aws playbooks/site.yml --check --diff \
  "${vars[@]}" -e "hpc_custom_ami=$ami" > "$work/check.json" || true
play -i inventories/aws "$here/check.yml" "${vars[@]}" -e "check_result=$work/check.json"
echo "aws_check: site.yml -i inventories/aws --check reached ParallelCluster's dry run in eu-west-1"
