"""The harness of `python -m experiments.bench`: w2v_jax vs gensim, word2vec.c and fastText.

Every system gets the same corpus, hyper-parameters and thread count, and runs alone as a
subprocess, one after the other. The modules, by job:

* `corpus`: the prepared corpus copies every system reads.
* `process`: one timed subprocess (CPU pinning, RSS polling, output markers, timeout).
* `systems`: the hyper-parameters, one runner per system, output parsers, the shared evaluator.
* `report`: machine information, ratios, the Markdown table, notes and the JSON document.

The gensim and fastText drivers (experiments/_bench_gensim.py, experiments/_bench_fasttext.py)
run as subprocesses; this package never imports gensim or fasttext itself.

How things are measured:
* Preparation (not timed for anyone): the corpus is decompressed once into a temp dir as one
  text8-style line (word2vec.c, fastText, w2v_jax read that) and as lines of 1,000 words for
  gensim, whose file readers silently cut lines at 10,000 tokens (gensim issue 2880); 1,000 is
  word2vec.c's own sentence cap. Line breaks of a multi-line input are flattened (all systems see
  the same token stream). --max_words=N keeps only the first N words.
* end-to-end s: wall seconds from spawning the subprocess to its exit (interpreter start,
  vocabulary, JAX compilation, training, saving the vectors).
* training words/s: epochs * corpus tokens / training seconds (raw words read, before
  subsampling: word2vec.c's convention). Training seconds per system:
  - gensim: `model.train()` timed inside experiments/_bench_gensim.py.
  - word2vec.c: from the arrival of its first progress line ("Alpha: ... Progress: ..."), i.e.
    after vocabulary, net and unigram-table set-up, to process exit (includes writing the
    vectors, ~0.1 s). Its own figure (last `Words/thread/sec` x threads, rescaled from its
    in-vocabulary word count to corpus tokens) is kept as a cross-check; it divides by
    clock(), the process CPU time, so it overstates wall speed when the threads do not each get
    a whole core.
  - fastText: from the arrival of its "Number of labels" line (vocabulary done) to the driver's
    BENCH_TRAINED line (train_unsupervised returned).
  - w2v_jax: `words_per_sec` of the last row of its metrics.jsonl (its own clock, started after
    the train step is compiled).
* peak RSS MB: the larger of (a) the sum of RSS over the process tree, polled with psutil every
  0.2 s, and (b) ru_maxrss from os.wait4 of the child (exact, but per process, not summed).
* Threads: --threads is passed to each system (w2v_jax has no thread flag); when --threads is
  below the machine's core count every subprocess is also pinned to the first --threads CPUs
  (sched_setaffinity), which is what bounds XLA's thread pool.
* Quality: every system's vectors are scored by the same evaluator (w2v_jax.evaluate) on
  data/eval/questions-words.txt (restrict_vocab=300000) and data/eval/wordsim353.tsv.
"""
