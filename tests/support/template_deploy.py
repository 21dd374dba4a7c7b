"""Deploys template.yaml's functions onto the local test stack as AWS would: each function gets
exactly the IAM policy and the environment its template block gives it, nothing copied by hand.

    python3 template_deploy.py deploy --template T --settings FILE --table NAME \
        --dynamodb URL --out DIR [--parameter NAME=VALUE ...]
        For each AWS::Serverless::Function: an IAM user with the function's inline policy (table
        and index ARNs resolved) and an access key, made through the local DynamoDB API
        server's own IAM API; DIR/<binary>.env holding the function's environment (Globals
        merged with its own, parameters and secrets resolved) plus its credentials. Then the
        server starts enforcing IAM on every request (moto's INITIAL_NO_AUTH_ACTION_COUNT).

    python3 template_deploy.py undeploy --dynamodb URL
        The server stops enforcing IAM (for whoever uses it next).

FILE holds the test run's settings as KEY=VALUE lines (AUTHFN_* variables, as the dev server
takes them). Each reaches the functions the way a deployment would carry it:
  - a variable the template sets from a parameter (`AUTHFN_PUBLIC_URL: !Ref PublicUrl`) becomes
    that parameter's value, so only the functions the template gives it see it;
  - a variable the template resolves from a Secrets Manager secret becomes that secret's value;
    AUTHFN_SECRET_SETTINGS secrets are JSON objects whose contents SECRET_CONTENTS names (as the
    parameters' descriptions in template.yaml do);
  - TEST_OVERRIDES go to every function: what only a local test run needs;
  - anything else is an error: a setting the template gives no function.
--parameter gives a template parameter that no setting carries (MailIdentity: the SES identity
the functions that send mail may send as).
"""

import argparse
import fnmatch
import json
import os
import re
import sys
import urllib.request

import yaml

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
STACK = "authfn-test"

# Which settings each JSON secret (read through AUTHFN_SECRET_SETTINGS) holds.
SECRET_CONTENTS = {
    "OAuthSecretName": ["AUTHFN_JWT_KEYS", "AUTHFN_JWT_RSA_KEY", "AUTHFN_OAUTH_CLIENT_*_SECRET"],
    "FederationSecretName": ["AUTHFN_FEDERATION_*"],
    "DataKeysSecretName": ["AUTHFN_DATA_KEYS"],
}

# Settings a local run adds to every function, and why.
TEST_OVERRIDES = {
    "AUTHFN_DYNAMODB_ENDPOINT": "the local DynamoDB API instead of AWS's",
    "AUTHFN_SES_ENDPOINT": "the local SES API (the same server) instead of AWS's",
    "AUTHFN_EVENTBRIDGE_ENDPOINT": "the local EventBridge API (the same server) instead of AWS's",
    "AUTHFN_AWS_TIMEOUT_SCALE": "that server answers one call at a time and queues bursts for seconds",
    "AUTHFN_COOKIE_SECURE": "plain HTTP on loopback",
    "AUTHFN_DEVICE_INTERVAL_SECS": "device-flow tests poll every second, not every five",
    "AUTHFN_ACCESS_TOKEN_JWKS_URL": "under cargo lambda the JWKS has its own URL prefix",
}

NO_VALUE = object()  # AWS::NoValue: the key is left out


class TemplateError(Exception):
    pass


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags, read into their long forms."""


def _tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def function_blocks(template):
    """(logical id, binary, properties) of each AWS::Serverless::Function."""
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            yield logical_id, resource["Metadata"]["BuildProperties"]["Binary"], resource.get("Properties", {})


class Stack:
    """template.yaml with its parameters and secrets given: resolves what a function gets."""

    def __init__(self, template, parameters, secrets, table):
        self.template = template
        self.secrets = secrets
        self.table = table
        declared = template.get("Parameters", {})
        unknown = set(parameters) - set(declared)
        if unknown:
            raise TemplateError(f"not parameters of the template: {sorted(unknown)}")
        self.parameters = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
        self.parameters.update(parameters)
        self.conditions = {}
        for name, expr in template.get("Conditions", {}).items():
            self.conditions[name] = self.resolve(expr)

    def ref(self, name):
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": STACK, "AWS::NoValue": NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name == "Table":
            return self.table
        if name in self.template["Resources"]:
            return name  # a resource no test value depends on (the HTTP API's id)
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def get_att(self, resource, attribute):
        if (resource, attribute) == ("Table", "Arn"):
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table}"
        raise TemplateError(f"!GetAtt {resource}.{attribute} is not resolved locally")

    def sub(self, text):
        def one(match):
            name = match.group(1)
            value = self.get_att(*name.split(".", 1)) if "." in name else self.ref(name)
            return str(value)

        text = re.sub(r"\$\{([^}!]+)\}", one, text)
        return re.sub(r"\{\{resolve:secretsmanager:([^:}]+)[^}]*\}\}", lambda m: self.secret(m.group(1)), text)

    def secret(self, name):
        if name not in self.secrets:
            raise TemplateError(f"the template reads secret {name!r}, which the test run does not give")
        return self.secrets[name]

    def resolve(self, value):
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::If":
                condition, yes, no = arg
                return self.resolve(yes if self.conditions[condition] else no)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"{key} is not resolved locally: teach template_deploy.py")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def policy_statements(self, logical_id, policy):
        """The statements of one entry of a function's Policies: inline statements, or a
        managed policy of the template (`!Ref`), either possibly under an `!If`."""
        if isinstance(policy, dict) and set(policy) == {"Fn::If"}:
            condition, yes, no = policy["Fn::If"]
            policy = yes if self.conditions[condition] else no
        if policy == {"Ref": "AWS::NoValue"}:
            return []
        if isinstance(policy, dict) and set(policy) == {"Statement"}:
            return self.resolve(policy["Statement"])
        if isinstance(policy, dict) and set(policy) == {"Ref"}:
            resource = self.template["Resources"].get(policy["Ref"], {})
            if resource.get("Type") == "AWS::IAM::ManagedPolicy":
                if "Condition" in resource and not self.conditions[resource["Condition"]]:
                    raise TemplateError(f"{logical_id}: uses {policy['Ref']}, which its condition leaves out")
                return self.resolve(resource["Properties"]["PolicyDocument"]["Statement"])
        raise TemplateError(f"{logical_id}: only inline statements and the template's managed policies are deployed locally, got {policy!r}")

    def functions(self):
        """Binary name -> (logical id, environment, policy document or None)."""
        globals_env = self.template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        out = {}
        for logical_id, binary, props in function_blocks(self.template):
            # SAM merges the Globals' variables with the function's own; the function's win.
            variables = dict(globals_env, **props.get("Environment", {}).get("Variables", {}))
            env = {k: str(v) for k, v in self.resolve(variables).items()}
            statements = []
            for policy in props.get("Policies", []):
                statements += self.policy_statements(logical_id, policy)
            document = {"Version": "2012-10-17", "Statement": statements} if statements else None
            out[binary] = (logical_id, env, document)
        return out


def split_settings(template, settings):
    """The test run's settings as the template's parameters, secrets and test overrides."""
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    sources = {}  # variable -> every template expression that sets it
    for resource in template["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            own = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            for name, expr in dict(globals_env, **own).items():
                sources.setdefault(name, []).append(expr)

    parameters, secrets, overrides, unplaced = {}, {}, {}, dict(settings)
    for name, exprs in sources.items():
        text = json.dumps(exprs)
        for parameter in set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text)):
            if name in settings and parameter in template.get("Parameters", {}):
                parameters[parameter] = settings[name]
                unplaced.pop(name, None)
        for parameter in set(re.findall(r"resolve:secretsmanager:\$\{([A-Za-z0-9]+)\}", text)):
            secret_name = f"test/{parameter}"
            if name == "AUTHFN_SECRET_SETTINGS":
                patterns = SECRET_CONTENTS.get(parameter)
                if patterns is None:
                    raise TemplateError(f"SECRET_CONTENTS does not say what {parameter}'s secret holds")
                content = {k: v for k, v in settings.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
                if not content:
                    continue
                secrets[secret_name] = json.dumps(content)
                for k in content:
                    unplaced.pop(k, None)
            elif name in settings:
                secrets[secret_name] = settings[name]
                unplaced.pop(name, None)
            else:
                continue
            parameters[parameter] = secret_name
    for name in list(unplaced):
        if name in TEST_OVERRIDES:
            overrides[name] = unplaced.pop(name)
    if unplaced:
        raise TemplateError(f"template.yaml gives no function these settings: {sorted(unplaced)}")
    return parameters, secrets, overrides


def read_settings(path):
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                settings[key] = value
    return settings


def moto_auth(endpoint, count):
    # moto serves IAM only to the first `count` requests without checking them.
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).read()


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


def deploy(args):
    import boto3

    template = load(args.template)
    parameters, secrets, overrides = split_settings(template, read_settings(args.settings))
    for given in args.parameter:
        name, _, value = given.partition("=")
        parameters[name] = value
    stack = Stack(template, parameters, secrets, args.table)
    iam = boto3.client("iam", endpoint_url=args.dynamodb, region_name=REGION,
                       aws_access_key_id="local", aws_secret_access_key="local")
    os.makedirs(args.out, mode=0o700, exist_ok=True)
    for binary, (logical_id, env, policy) in sorted(stack.functions().items()):
        user = f"authfn-{binary}-{os.getpid()}"  # a fresh user, should the server have run a deploy before
        iam.create_user(UserName=user)
        if policy is not None:
            iam.put_user_policy(UserName=user, PolicyName=logical_id, PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        env = dict(env, **overrides)
        # What the Lambda runtime itself gives every function: its role's credentials, its region.
        env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"], AWS_REGION=REGION)
        path = os.path.join(args.out, f"{binary}.env")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            for name, value in sorted(env.items()):
                if "\n" in value:
                    raise TemplateError(f"{binary}: {name} spans lines")
                f.write(f"{name}={value}\n")
    moto_auth(args.dynamodb, "0")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy")
    d.add_argument("--template", required=True)
    d.add_argument("--settings", required=True)
    d.add_argument("--table", required=True)
    d.add_argument("--dynamodb", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    u = sub.add_parser("undeploy")
    u.add_argument("--dynamodb", required=True)
    args = parser.parse_args()
    try:
        if args.command == "deploy":
            deploy(args)
        else:
            moto_auth(args.dynamodb, "inf")
    except TemplateError as e:
        sys.exit(f"template_deploy: {e}")


if __name__ == "__main__":
    main()
