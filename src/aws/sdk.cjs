// The AWS SDK clients the AWS adapters use, loaded by require. The SDK ships CommonJS only (dist-cjs);
// imported from ES modules, Node reads, format-detects and lexes each package's entry file for named
// exports before loading it (for EC2's 2 MB entry, twice the work of loading it), which made the
// SDK a third of the CPU of every CLI run on the AWS target. Required from here, each loads once,
// by the CommonJS loader, and bundlers (scripts/package-guard.ts) still follow the requires.
"use strict";

exports.autoScaling = require("@aws-sdk/client-auto-scaling");
exports.cloudWatch = require("@aws-sdk/client-cloudwatch");
exports.dynamoDb = require("@aws-sdk/client-dynamodb");
exports.ec2 = require("@aws-sdk/client-ec2");
exports.ecr = require("@aws-sdk/client-ecr");
exports.elb = require("@aws-sdk/client-elastic-load-balancing-v2");
exports.lambda = require("@aws-sdk/client-lambda");
exports.credentialProviders = require("@aws-sdk/credential-providers");
