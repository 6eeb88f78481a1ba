// Types of sdk.cjs: each entry is the package itself.
export declare const autoScaling: typeof import("@aws-sdk/client-auto-scaling");
export declare const cloudWatch: typeof import("@aws-sdk/client-cloudwatch");
export declare const dynamoDb: typeof import("@aws-sdk/client-dynamodb");
export declare const ec2: typeof import("@aws-sdk/client-ec2");
export declare const ecr: typeof import("@aws-sdk/client-ecr");
export declare const elb: typeof import("@aws-sdk/client-elastic-load-balancing-v2");
export declare const lambda: typeof import("@aws-sdk/client-lambda");
export declare const credentialProviders: typeof import("@aws-sdk/credential-providers");
