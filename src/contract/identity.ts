/**
 * How gray-deploy names itself to the systems it calls.
 *
 * `AWS_USER_AGENT` is appended to the SDK's User-Agent of every AWS call gray-deploy makes (the AWS
 * target's clients and their credential providers' STS clients, and the Dagger module's STS and ECR
 * clients): CloudTrail records it (`userAgent`), so an audit tells the tool's ModifyRule from a
 * person's, and the test suite's strict proxy tells the tool's calls from the test's own. It lives
 * in the contract because both the adapters and the front ends send it.
 */
export const AWS_USER_AGENT = "gray-deploy";
