# expect: none
import boto3
s3 = boto3.client("s3")
