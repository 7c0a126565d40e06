"""The W&B stand-in behind its emulated load balancer: the listener admits only allowed sources (others time out, as
a security group drops them), the pods' port answers the load balancer's health checks; and W&B reading its queue."""

from __future__ import annotations

import http.client
import socket

import boto3
import pytest
from moto import mock_aws

from wbd.sandbox.emulator import ACCOUNT_ID
from wbd.sandbox.terraform_emulation.app_wiring import READ_BY_TAG
from wbd.sandbox.wandb_queue_reader import WandbQueueReader
from wbd.sandbox.wandb_standin import WandbStandIn

pytestmark = pytest.mark.unit


def status(host: str, port: int, path: str = "/healthz", timeout: float = 1.0) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_only_from_holds_other_sources_until_they_give_up_while_the_pods_still_answer() -> None:
    with WandbStandIn() as standin:
        standin.only_from(["203.0.113.0/24"])
        with pytest.raises(TimeoutError):
            status("127.0.0.1", standin.port, timeout=0.5)
        assert standin.held == ["127.0.0.1"] and standin.requests == []
        target_host, target_port = standin.target_address.split(":")
        assert status(target_host, int(target_port)) == 200
        assert standin.target_requests == ["/healthz"]

        standin.only_from(["127.0.0.0/8"])
        assert status("127.0.0.1", standin.port) == 200
        standin.only_from(None)
        assert status("127.0.0.1", standin.port) == 200


def test_flapping_counts_the_listeners_requests_only_and_down_stops_both_ports() -> None:
    with WandbStandIn() as standin:
        host, port = standin.target_address.split(":")
        standin.flap(1)
        assert status(host, int(port)) == 200  # the load balancer's check does not use up the flap
        assert status("127.0.0.1", standin.port) == 503
        standin.down()
        for where in (standin.port, int(port)):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", where), timeout=1).close()
        standin.up()
        assert standin.target_address == f"{host}:{port}"


def test_the_reader_consumes_only_queues_wandb_reads_and_can_stop() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="eu-central-1")
        read = sqs.create_queue(QueueName="wandb-file-storage-read")["QueueUrl"]
        sqs.tag_queue(QueueUrl=read, Tags={READ_BY_TAG: "wandb"})
        other = sqs.create_queue(QueueName="someone-elses")["QueueUrl"]
        for url in (read, other):
            sqs.send_message(QueueUrl=url, MessageBody="{}")
        reader = WandbQueueReader(ACCOUNT_ID)

        assert reader.drain_once() == 1

        def waiting(url: str) -> str:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            return str(attributes["Attributes"]["ApproximateNumberOfMessages"])

        assert (waiting(read), waiting(other)) == ("0", "1")
        reader.start()
        reader.reading(False)
        sqs.send_message(QueueUrl=read, MessageBody="{}")
        reader.stop()
        assert waiting(read) == "1" and reader.consumed == 1
