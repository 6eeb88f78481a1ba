/**
 * The one tag gray-deploy writes in AWS (the pipeline's IAM policy allows tagging with this key only;
 * test/iac reads it from here).
 */

/** The tag holding what the pin changed on stable, so any process can restore it. */
export const PIN_TAG = "gray-deploy:pin";
