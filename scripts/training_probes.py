#!/usr/bin/env python3
"""Writes the two probe corpora of docs/TRAINING.md ("Why runs 1-3 learned nothing"):

  word.jsonl: the answer is the one content word of the question (12 words, a few filler
              words around it): the smallest possible prompt-to-answer dependency.
  copy.jsonl: the answer is a get_order call with the order id of the question (a capital
              letter and four digits, random): copying a value from the prompt.

Usage: scripts/training_probes.py OUT_DIR   (then `quicksilver train --data OUT_DIR/...`)
"""
import json
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "."
os.makedirs(out, exist_ok=True)

rng = random.Random(0)
words = ["coffee", "order", "shipment", "delivery", "account", "refund", "status", "return",
         "track", "parcel", "customer", "question"]
fillers = ["please", "help", "me", "with", "the", "my", "now", "today", "thanks"]
with open(os.path.join(out, "word.jsonl"), "w") as f:
    for _ in range(20000):
        word = rng.choice(words)
        filler = " ".join(rng.choice(fillers) for _ in range(rng.randint(0, 3)))
        prompt = ("<|im_start|>user\nQuestion: " + filler + " " + word +
                  "\n<|im_end|>\n<|im_start|>assistant\n")
        f.write(json.dumps({"prompt": prompt, "response": json.dumps({"word": word})}) + "\n")

rng = random.Random(0)
letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
frames = ["Where is my order {}?", "Status of {} please", "Can you check order {} for me?",
          "What happened to {}?", "I want to know about order {}."]
with open(os.path.join(out, "copy.jsonl"), "w") as f:
    for _ in range(20000):
        order_id = rng.choice(letters) + "".join(rng.choice("0123456789") for _ in range(4))
        prompt = ("<|im_start|>system\nBergkaffee order_support.<|im_end|>\n<|im_start|>user\n"
                  "Customer account: \nQuestion: " + rng.choice(frames).format(order_id) +
                  "\n<|im_end|>\n<|im_start|>assistant\n")
        call = {"tool": "get_order", "arguments": {"order_id": order_id}}
        f.write(json.dumps({"prompt": prompt, "response": json.dumps(call, separators=(",", ":"))})
                + "\n")
