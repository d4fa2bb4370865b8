"""Checks an S3 bucket from outside Podium with boto3 (path-style, SigV4).

usage: s3_check.py ENDPOINT REGION BUCKET COMMAND [ARGS]
  put KEY TEXT    write an object
  get KEY         print an object's text
  count           print how many objects the bucket holds
  exists          print yes or no
  created         print the bucket's creation time (ListBuckets)
  buckets         print every bucket name starting with BUCKET (ListBuckets)
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
"""
import sys

import boto3
import botocore
from botocore.config import Config

endpoint, region, bucket, command, *args = sys.argv[1:]
config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                retries={"max_attempts": 1})
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)

if command == "put":
    key, text = args
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
elif command == "get":
    print(s3.get_object(Bucket=bucket, Key=args[0])["Body"].read().decode())
elif command == "count":
    print(s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0))
elif command == "exists":
    try:
        s3.head_bucket(Bucket=bucket)
        print("yes")
    except botocore.exceptions.ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
            raise
        print("no")
elif command == "created":
    found = [b for b in s3.list_buckets()["Buckets"] if b["Name"] == bucket]
    print(found[0]["CreationDate"].isoformat() if found else "none")
elif command == "buckets":
    for b in s3.list_buckets()["Buckets"]:
        if b["Name"].startswith(bucket):
            print(b["Name"])
else:
    sys.exit(f"unknown command {command}")
