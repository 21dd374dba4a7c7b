"""Checks that the local server refuses SES v2 SendEmail as AWS does (dynamodb_api_server.py):
with IAM enforced, a caller whose policy allows ses:SendEmail on the sending identity's ARN
may send, and one allowed only on another identity, or with no such statement, is refused.
template.yaml gives the functions that send mail exactly that statement (deployment.rs).

Usage: python3 ses_iam_check.py ENDPOINT IDENTITY FROM
Run while nothing else uses the server: it enforces IAM for a moment, then stops.
"""

import json
import os
import sys
import urllib.request

import boto3

ACCOUNT, REGION = "123456789012", "us-east-1"


def enforce(endpoint, count):
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


def main():
    endpoint, identity, sender = sys.argv[1:]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id="local", aws_secret_access_key="local")

    def caller(name, resource):
        user = f"ses-check-{name}-{os.getpid()}"
        iam.create_user(UserName=user)
        if resource:
            statement = {"Effect": "Allow", "Action": "ses:SendEmail", "Resource": resource}
            iam.put_user_policy(UserName=user, PolicyName="mail",
                                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return boto3.client("sesv2", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])

    callers = {
        "the identity's statement": (caller("allowed", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{identity}"), True),
        "another identity's statement": (caller("other", f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/other.example"), False),
        "no statement": (caller("none", None), False),
    }
    failures = []
    enforce(endpoint, "0")
    try:
        for name, (ses, allowed) in callers.items():
            try:
                ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": ["iam-check@example.com"]},
                               Content={"Simple": {"Subject": {"Data": "IAM check"}, "Body": {"Text": {"Data": "-"}}}})
                sent = True
            except ses.exceptions.ClientError as e:
                if e.response["ResponseMetadata"]["HTTPStatusCode"] != 403:
                    raise
                sent = False
            if sent != allowed:
                failures.append(f"a caller with {name} was {'allowed' if sent else 'refused'}")
    finally:
        enforce(endpoint, "inf")
    if failures:
        sys.exit("ses_iam_check: " + "; ".join(failures))
    print("check ses-sendemail-iam-on-the-identity ... ok")


if __name__ == "__main__":
    main()
