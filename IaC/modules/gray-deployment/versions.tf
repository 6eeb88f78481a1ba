terraform {
  # optional() object attributes with defaults (1.3), lifecycle pre/postconditions (1.2) and
  # check-free validation blocks are all we rely on; 1.5 is the floor the project supports.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}
