# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 用 Paddle 3 实现 LeNet-5：可以运行的教程
#
# 本教程沿着文章《Paddle实现LeNet-5》的顺序：先逐层剖析 1998 年的 LeNet-5，再用 Paddle 训练文章第二部分的现代变体
# （conv20-pool-BN-conv50-pool-fc10，Adam 1e-3，batch 128，10 个 epoch）。原文的代码基于早已移除的 `paddle.fluid` 和
# `paddle.dataset`，这里全部改写为 Paddle 3 的 `paddle.nn`、`paddle.optimizer`、`paddle.no_grad` 和 `paddle.jit.save`。
#
# 不是本课重点的部分交给 `lenet5` 包：校验过的 MNIST 数据、网络定义、照片的预处理。训练循环、评估和保存都在本页手写。
#
# - 设置环境变量 `LENET5_QUICK=1` 时，只用一小部分数据训练，2 核 CPU 上 2 分钟内跑完（CI 就是这样运行的）；
# - 不设置时，运行文章的完整配方（55,000 张训练图，10 个 epoch，在 2 核 CPU 上约 2 分钟）。

# %%
import os
import time
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")  # Paddle 的 C++ 日志只留警告以上
warnings.filterwarnings("ignore", message="No ccache found")

import matplotlib.pyplot as plt
import numpy as np
import paddle
import paddle.nn.functional as F

from lenet5.data import mnist
from lenet5.data.normalize import NORMALIZATIONS
from lenet5.models import create_model
from lenet5.models.summary import format_table, layer_table

QUICK = os.environ.get("LENET5_QUICK") == "1"
# 图中的中文需要中文字体（Debian：apt install fonts-wqy-microhei；make test 会安装）。
from matplotlib import font_manager

for font_file in ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",):
    if os.path.exists(font_file):  # 字体在 matplotlib 建缓存之后才装上时，也能找到
        font_manager.fontManager.addfont(font_file)
plt.rcParams["font.sans-serif"] = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "SimHei", "DejaVu Sans"]
plt.rcParams["axes.unicode_minus"] = False
paddle.seed(0)
np.random.seed(0)
print("Paddle", paddle.__version__, "| 快速模式" if QUICK else "| 完整模式")

# %% [markdown]
# ## 一、LeNet-5 逐层剖析
#
# 数据：MNIST，60,000 张训练图和 10,000 张测试图，每张 28×28。`mnist.load()` 读取仓库里自带的文件并校验 MD5。
# 1998 年的 LeNet-5 输入是 32×32：把 28×28 的数字放在 32×32 的中央，背景为 -0.1，笔画为 1.175（论文的归一化）。

# %%
data = mnist.load()
print("训练集", data.train_images.shape, "测试集", data.test_images.shape)
paper_input = NORMALIZATIONS["paper"]  # 28x28 uint8 -> 1x32x32 float32
digit = data.test_images[0]
x = paddle.to_tensor(paper_input(digit[None]))
print("输入张量形状", x.shape, "背景值", float(x[0, 0, 0, 0]), "最大值", round(float(x.max()), 3))

# %% [markdown]
# ### 参数个数与连接数：由模型对象计算，而不是抄表
#
# `layer_table` 用一次前向传播得到每层的特征图大小，用可训练张量数出参数（C3 中被连接表屏蔽的权重不计），
# 再由形状和卷积核算出连接数。结果应与文章（和论文）一致：C1 156 个参数、122,304 个连接；C3 1,516 个参数；
# 总共 60,000 个可训练参数、340,908 个连接。

# %%
lenet = create_model("lenet5", init="sqrt")
print(format_table(layer_table(lenet, "lenet5")))

# %% [markdown]
# ### C3 的连接表（论文的 Table I）
#
# C3 的 16 个特征图并不都连接 S2 的全部 6 个特征图：前 6 个各连 3 个相邻的图，接着 9 个各连 4 个，最后 1 个连全部 6 个。
# 下图直接从模型的掩码（`c3.mask`）画出：黑格表示“C3 的第 k 个图使用 S2 的第 i 个图”。

# %%
mask = lenet.c3.mask.numpy()  # [16, 6, 5, 5]：被屏蔽的权重恒为 0，梯度也恒为 0
table = mask.reshape(16, 6, -1).any(axis=2).T  # [6 个 S2 图, 16 个 C3 图]
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.imshow(~table, cmap="gray", vmin=0, vmax=1)
ax.set_xticks(range(16))
ax.set_yticks(range(6))
ax.set_xlabel("C3 特征图")
ax.set_ylabel("S2 特征图")
ax.set_title("C3 的连接表（Table I），由模型的掩码画出")
ax.set_xticks(np.arange(-0.5, 16), minor=True)
ax.set_yticks(np.arange(-0.5, 6), minor=True)
ax.grid(which="minor", color="#999", linewidth=0.5)
plt.show()
print("每个 C3 图连接的 S2 图个数：", table.sum(axis=0).tolist())

# %% [markdown]
# ### 输出层：10 个 7×12 的 RBF 比特图
#
# F6 有 84 个单元，正好是一张 7×12 的图。输出层第 i 个单元计算 F6 的输出与数字 i 的比特图之间的欧氏距离
# y_i = Σ_j (x_j − w_ij)²，距离越小越像数字 i。这些权重固定为 ±1，不参与训练。下图由模型的 `prototypes` 画出。

# %%
prototypes = lenet.output.prototypes.numpy()  # [10, 84]
fig, axes = plt.subplots(1, 10, figsize=(10, 2.2))
for d, ax in enumerate(axes):
    ax.imshow(prototypes[d].reshape(12, 7), cmap="gray_r", vmin=-1, vmax=1)
    ax.set_title(str(d))
    ax.axis("off")
fig.suptitle("输出层的固定比特图（+1 黑，-1 白）")
plt.show()

# %% [markdown]
# ### 看看每一层“看到”了什么
#
# 完整的 1998 年配方（SDLM、每次一个样本、20 轮）在 2 核 CPU 上要半小时左右，见 `lenet5 train --recipe paper`。
# 这里为了看特征图，先用 Adam 在一部分训练图上快速训练一轮，然后逐层前向，画出 C1（6@28×28）、S2（6@14×14）和 C3（16@10×10）。

# %%
from lenet5.train.losses import rbf_map  # 论文的 MAP 准则（式 9）

n_quick = 3000 if QUICK else 20000
x_train_paper = paper_input(data.train_images[:n_quick])
y_train = data.train_labels[:n_quick].astype("int64")
optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=lenet.parameters())
lenet.train()
for start in range(0, n_quick, 32):
    xb = paddle.to_tensor(x_train_paper[start : start + 32])
    yb = paddle.to_tensor(y_train[start : start + 32])
    loss = rbf_map(lenet(xb), yb).mean()
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
lenet.eval()
with paddle.no_grad():
    penalties = lenet(paddle.to_tensor(paper_input(data.test_images[:1000])))
quick_accuracy = float((penalties.argmin(axis=1).numpy() == data.test_labels[:1000]).mean())
print(f"快速训练后，前 1000 张测试图的准确率：{100 * quick_accuracy:.1f}%")

# %%
from lenet5.models.lenet1998 import squash

with paddle.no_grad():
    c1 = squash(lenet.c1(x))
    s2 = squash(lenet.s2(c1))
    c3 = squash(lenet.c3(s2))


def show_maps(maps, title, cols):
    maps = maps.numpy()[0]
    rows = int(np.ceil(len(maps) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.3))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for k, (ax, m) in enumerate(zip(np.atleast_1d(axes).ravel(), maps, strict=False)):
        ax.imshow(m, cmap="RdBu_r", vmin=-1.7, vmax=1.7)
        ax.set_title(str(k), fontsize=8)
    fig.suptitle(f"{title}：{maps.shape[0]}@{maps.shape[1]}×{maps.shape[2]}")
    fig.tight_layout()
    plt.show()


plt.figure(figsize=(2, 2))
plt.imshow(digit, cmap="gray_r")
plt.title(f"输入：数字 {data.test_labels[0]}")
plt.axis("off")
plt.show()
show_maps(c1, "C1 卷积层", 6)
show_maps(s2, "S2 下采样层", 6)
show_maps(c3, "C3 卷积层（部分连接）", 8)

# %% [markdown]
# ## 二、Paddle 3 实现文章的现代变体
#
# 文章第二部分把网络改成 conv20-pool-BN-conv50-pool-fc10，输入 28×28，像素归一化到 [-1, 1]。
# 网络定义在 `lenet5/models/seed.py`（`create_model("seed")`），下面的训练循环完全手写。
#
# 与原文不同的一点：**从训练集末尾留出 5,000 张作为验证集**，用它来挑选 epoch；测试集只用来报告。原因见第四节。

# %%
seed_input = NORMALIZATIONS["seed"]  # p / 255 * 2 - 1，形状 [N, 1, 28, 28]
n_train = 5000 if QUICK else 55000
epochs = 2 if QUICK else 10
batch_size = 128

x_train, y_train = seed_input(data.train_images[:n_train]), data.train_labels[:n_train].astype("int64")
x_val, y_val = seed_input(data.train_images[55000:]), data.train_labels[55000:].astype("int64")
x_test, y_test = seed_input(data.test_images), data.test_labels.astype("int64")
print("训练", x_train.shape, "验证", x_val.shape, "测试", x_test.shape)

model = create_model("seed")
print(model)

# %% [markdown]
# ### 训练循环与精确的评估
#
# `evaluate` 把每个样本的损失和是否正确累加，再除以样本总数：这是精确的平均损失和准确率，与批大小无关。

# %%
optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())


def evaluate(net, inputs, labels, batch=1000):
    """精确的平均损失和准确率：按样本累加，而不是对每批的平均值再求平均。"""
    net.eval()
    total_loss, correct = 0.0, 0
    with paddle.no_grad():
        for start in range(0, len(labels), batch):
            xb = paddle.to_tensor(inputs[start : start + batch])
            yb = paddle.to_tensor(labels[start : start + batch])
            logits = net(xb)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += int((logits.argmax(axis=1) == yb).astype("int64").sum().item())
    net.train()
    return total_loss / len(labels), correct / len(labels)


history, snapshots = [], []
rng = np.random.default_rng(0)
started = time.perf_counter()
step = 0
for epoch in range(epochs):
    model.train()
    order = rng.permutation(n_train)  # 每个 epoch 打乱一次
    for start in range(0, n_train, batch_size):
        index = order[start : start + batch_size]
        logits = model(paddle.to_tensor(x_train[index]))
        loss = F.cross_entropy(logits, paddle.to_tensor(y_train[index]))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        if step % 100 == 0:
            print(f"Step {step}, Epoch {epoch}, Cost {loss.item():.6f}")
        step += 1
    val_cost, val_acc = evaluate(model, x_val, y_val)
    test_cost, test_acc = evaluate(model, x_test, y_test)
    history.append(
        {"epoch": epoch, "val_cost": val_cost, "val_acc": val_acc, "test_cost": test_cost, "test_acc": test_acc}
    )
    snapshots.append({k: v.numpy().copy() for k, v in model.state_dict().items()})  # 每个 epoch 的权重
    print(f"Epoch {epoch}: 验证 cost {val_cost:.4f} acc {val_acc:.4f} | 测试 cost {test_cost:.4f} acc {test_acc:.4f}")
print(f"训练用时 {time.perf_counter() - started:.0f} 秒")

# %% [markdown]
# ### 训练曲线

# %%
epochs_axis = [h["epoch"] for h in history]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
ax1.plot(epochs_axis, [h["val_cost"] for h in history], "o-", label="验证")
ax1.plot(epochs_axis, [h["test_cost"] for h in history], "o-", label="测试")
ax1.set_title("平均损失")
ax2.plot(epochs_axis, [100 * (1 - h["val_acc"]) for h in history], "o-", label="验证")
ax2.plot(epochs_axis, [100 * (1 - h["test_acc"]) for h in history], "o-", label="测试")
ax2.set_title("错误率（%）")
for ax in (ax1, ax2):
    ax.set_xlabel("epoch")
    ax.legend()
    ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ## 三、原文的三个问题，在这里实际量一量
#
# ### 1. 用“每批准确率的平均值”当作准确率
#
# 原文的 `train_test` 对每一批求准确率，再对这些值求平均。测试集 10,000 张、批大小 128 时，最后一批只有 16 张，
# 却和其他整批有同样的权重。下面比较这种做法与精确准确率（正确数 ÷ 10,000）。

# %%
model.eval()
batch_accuracies = []
with paddle.no_grad():
    for start in range(0, len(y_test), 128):
        logits = model(paddle.to_tensor(x_test[start : start + 128]))
        batch_accuracies.append(float((logits.argmax(axis=1).numpy() == y_test[start : start + 128]).mean()))
_, exact = evaluate(model, x_test, y_test)
print(f"批数 {len(batch_accuracies)}，最后一批 {len(y_test) % 128} 张，最后一批准确率 {batch_accuracies[-1]:.4f}")
print(f"每批平均值的平均：{np.mean(batch_accuracies):.6f}")
print(f"精确准确率：      {exact:.6f}")
print(f"差别：{100 * (np.mean(batch_accuracies) - exact):+.4f} 个百分点")

# %% [markdown]
# ### 2. 在测试集上挑选最好的 epoch
#
# 原文看着测试集的结果挑最好的 epoch，这样报告的“测试准确率”就不再是对新数据的无偏估计：挑选本身用到了测试集。
# 正确的做法是在验证集上挑选，然后只报告所选 epoch 的测试结果。

# %%
by_test = max(history, key=lambda h: h["test_acc"])
by_val = min(history, key=lambda h: h["val_cost"])
print(f"按测试集挑选：epoch {by_test['epoch']}，报告的测试准确率 {by_test['test_acc']:.4f}（乐观，挑选时已看过测试集）")
print(f"按验证集挑选：epoch {by_val['epoch']}，报告的测试准确率 {by_val['test_acc']:.4f}（诚实的估计）")

# %% [markdown]
# ### 3. 保存最后一个 epoch，而不是挑选出的那个
#
# 原文每个 epoch 都覆盖保存模型，最后留下的是最后一个 epoch。我们保存了每个 epoch 的权重，可以直接比较。

# %%
last = history[-1]
print(f"最后一个 epoch {last['epoch']}：测试准确率 {last['test_acc']:.4f}")
print(f"验证集挑选的 epoch {by_val['epoch']}：测试准确率 {by_val['test_acc']:.4f}")
model.set_state_dict({k: paddle.to_tensor(v) for k, v in snapshots[by_val["epoch"]].items()})
print("已把模型恢复为验证集挑选的 epoch：", evaluate(model, x_test, y_test))

# %% [markdown]
# ## 四、保存与加载：`paddle.jit.save`
#
# `paddle.jit.save` 写出静态图模型（Paddle 3 中为 `.json` 和 `.pdiparams`），可以用 `paddle.jit.load` 或
# Paddle Inference 加载，不再需要 Python 的网络定义。

# %%
import tempfile

from paddle.static import InputSpec

model.eval()
save_dir = tempfile.mkdtemp()
path = os.path.join(save_dir, "lenet_seed")
paddle.jit.save(model, path, input_spec=[InputSpec([None, 1, 28, 28], "float32", "image")])
print(sorted(os.listdir(save_dir)))
loaded = paddle.jit.load(path)
loaded.eval()
batch = paddle.to_tensor(x_test[:64])
with paddle.no_grad():
    same = np.allclose(loaded(batch).numpy(), model(batch).numpy(), atol=1e-5)
print("加载后的模型与原模型输出一致：", same)

# %% [markdown]
# ## 五、识别你自己的图片
#
# 真实照片与 MNIST 差别很大：白纸黑字、光照不均、数字不在中央、笔画粗细不同。`lenet5.vision.preprocess.read_picture`
# 按 MNIST 的方法处理：估计局部背景、找到数字、调整笔画粗细、最长边缩放到 20 像素、按质心放进 28×28。
# 下面用 Pillow 画一张“照片”代替你的文件；换成 `read_picture("你的图片.jpg")` 即可。

# %%
from PIL import Image, ImageDraw, ImageFilter

from lenet5.vision.preprocess import read_picture

photo = Image.new("L", (400, 300), 210)
draw = ImageDraw.Draw(photo)
for x0 in range(400):  # 不均匀的光照：左暗右亮
    draw.line([(x0, 0), (x0, 300)], fill=170 + x0 // 6)
draw.line([(170, 70), (250, 70), (190, 240)], fill=40, width=9)  # 手写的“7”
photo = photo.filter(ImageFilter.GaussianBlur(1.2))
buffer = tempfile.NamedTemporaryFile(suffix=".png", delete=False)
photo.save(buffer.name)

found = read_picture(buffer.name)
with paddle.no_grad():
    probabilities = F.softmax(loaded(paddle.to_tensor(seed_input(found.digit[None]))), axis=-1).numpy()[0]
fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(10, 3))
ax1.imshow(photo, cmap="gray", vmin=0, vmax=255)
ax1.set_title("照片")
ax2.imshow(found.digit, cmap="gray")
ax2.set_title("模型看到的 28×28")
ax3.bar(range(10), probabilities)
ax3.set_xticks(range(10))
ax3.set_title(f"预测：{probabilities.argmax()}（{100 * probabilities.max():.1f}%）")
for ax in (ax1, ax2):
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 六、真正使用时：命令行
#
# 本教程是为了学习。真正训练和部署时，请使用 `lenet5` 命令行，它做了本页的一切，并且更稳妥
# （断点续训、原子写入、不会覆盖你的文件、导出 ONNX）：
#
# ```sh
# lenet5 train                                  # 文章的配方，验证集挑选 epoch
# lenet5 train --recipe strong                  # 同一网络，更强的训练配方（约 99.5%）
# lenet5 train --model lenet5 --recipe paper    # 1998 年的 LeNet-5 与论文的 SDLM 配方
# lenet5 predict 你的照片.jpg                    # 直接用随包发布的模型识别
# lenet5 read 一串数字.jpg                       # 识别一整串手写数字
# lenet5 serve                                  # 浏览器里写数字，http://127.0.0.1:8000/
# ```
#
# 中文说明见仓库根目录的 `README.zh-CN.md`。
